-- grain: one observation of int_observations x region scheme of the reporting country
with observations as (
    select * from int_observations
),

members as (
    select scheme, region_code, region_name, iso3 from ref_region_members
),

final as (
    select m.scheme, m.region_code, m.region_name, o.*
    from observations as o
    inner join members as m on m.iso3 = o.country
)

select * from final
