-- grain: scheme x region (of detection) x year x flow
-- flow of each detected victim from citizenship against the detecting country:
-- NATIONALS = domestic; an ISO3 citizenship in the same sub-region / region / elsewhere;
-- FOREIGN cannot be placed and is its own flow (unattributable_foreign). Shares are of the
-- victims with known citizenship: UNKNOWN is no flow and is reported beside the shares
-- (unknown_persons, over the same countries). Censored cells (<5) count as nothing in victims and
-- share; share_low / share_high bound the share over the values they can hide.
with observations as (
    select * from int_observations_regions
    where
        indicator = getvariable('victims_indicator')
        and sex = getvariable('total_code') and age = getvariable('total_code')
        and exploitation = getvariable('total_code')
        and citizenship <> getvariable('total_code')
        and (value is not null or status = getvariable('censored_status'))
),

members as (
    select scheme, region_code, subregion_code, iso3 from ref_region_members
),

model_vars as (
    select
        getvariable('min_countries_share_base')::integer as min_countries,
        getvariable('censored_max_value')::integer as censored_max
),

placed as (
    select
        o.scheme, o.region_code as region, o.year, o.country, o.value,
        o.status = getvariable('censored_status') as censored,
        case
            when o.citizenship = getvariable('nationals_code') or o.citizenship = o.country
                then 'domestic'
            when c.iso3 is null then 'unattributable_' || lower(o.citizenship)
            when c.subregion_code = d.subregion_code then 'within_subregion'
            when c.region_code = d.region_code then 'within_region'
            else 'transregional'
        end as flow
    from observations as o
    inner join members as d on d.scheme = o.scheme and d.iso3 = o.country
    left join members as c on c.scheme = o.scheme and c.iso3 = o.citizenship
    where o.citizenship <> getvariable('unknown_code')
),

base_countries as (
    select distinct scheme, region, year, country from placed
),

bases as (
    select scheme, region, year, count(*) as base_countries
    from base_countries
    group by all
),

unknown as (
    select o.scheme, o.region_code as region, o.year, sum(o.value) as unknown_persons
    from observations as o
    inner join base_countries as b
        on b.scheme = o.scheme and b.region = o.region_code and b.year = o.year
        and b.country = o.country
    where o.citizenship = getvariable('unknown_code')
    group by all
),

pooled as (
    select
        p.scheme, p.region, p.year, p.flow,
        coalesce(sum(p.value), 0) as victims,
        coalesce(sum(p.value), 0) + count(*) filter (where p.censored) * any_value(v.censored_max)
            as victims_high,
        count(*) filter (where p.censored) as censored_cells,
        count(distinct p.country) as n_countries
    from placed as p
    cross join model_vars as v
    group by p.scheme, p.region, p.year, p.flow
),

with_base as (
    select
        p.*,
        sum(p.victims) over base as base_persons,
        sum(p.victims_high) over base as base_persons_high
    from pooled as p
    window base as (partition by p.scheme, p.region, p.year)
),

final as (
    select
        p.scheme, p.region, p.year, p.flow, p.victims, p.victims_high, p.censored_cells,
        p.n_countries, p.base_persons, p.base_persons_high, b.base_countries,
        p.victims / nullif(p.base_persons, 0) as share,
        p.victims / nullif(p.victims + p.base_persons_high - p.victims_high, 0) as share_low,
        p.victims_high / nullif(p.victims_high + p.base_persons - p.victims, 0) as share_high,
        b.base_countries < v.min_countries as base_below_minimum,
        coalesce(u.unknown_persons, 0) as unknown_persons
    from with_base as p
    inner join bases as b using (scheme, region, year)
    left join unknown as u using (scheme, region, year)
    cross join model_vars as v
)

select * from final
