-- grain: scheme x region (of detection) x year x flow
-- flow of each detected victim from citizenship against the detecting country:
-- NATIONALS = domestic; an ISO3 citizenship in the same sub-region / region / elsewhere;
-- FOREIGN and UNKNOWN cannot be placed and are reported as their own category.
with observations as (
    select * from int_observations_regions
    where
        indicator = getvariable('victims_indicator')
        and sex = getvariable('total_code') and age = getvariable('total_code') and exploitation = getvariable('total_code')
        and citizenship <> getvariable('total_code') and value is not null
),

members as (
    select scheme, region_code, subregion_code, iso3 from ref_region_members
),

placed as (
    select
        o.scheme, o.region_code as region, o.year, o.country, o.value,
        case
            when o.citizenship = getvariable('nationals_code') or o.citizenship = o.country then 'domestic'
            when c.iso3 is null then 'unattributable_' || lower(o.citizenship)
            when c.subregion_code = d.subregion_code then 'within_subregion'
            when c.region_code = d.region_code then 'within_region'
            else 'transregional'
        end as flow
    from observations as o
    inner join members as d on d.scheme = o.scheme and d.iso3 = o.country
    left join members as c on c.scheme = o.scheme and c.iso3 = o.citizenship
),

final as (
    select
        scheme, region, year, flow,
        sum(value) as victims,
        count(distinct country) as n_countries,
        sum(value) / sum(sum(value)) over (partition by scheme, region, year) as share
    from placed
    group by scheme, region, year, flow
)

select * from final
