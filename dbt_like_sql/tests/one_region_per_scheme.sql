-- offending: a reporting country in no region or several regions of a scheme
with reporting as (
    select distinct country from current_observations
),

schemes as (
    select distinct scheme from ref_region_members
),

final as (
    select s.scheme, r.country, count(m.region_code) as n_regions
    from reporting as r
    cross join schemes as s
    left join ref_region_members as m on m.scheme = s.scheme and m.iso3 = r.country
    group by all
    having count(m.region_code) <> 1
)

select * from final
