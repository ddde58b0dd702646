-- grain: breakdown (citizenship or exploitation) x scheme x region x year x level x category
-- pooled shares of detected victims over the known categories of one breakdown, for the marts
-- agg_flows (categories: flows of citizenship) and agg_shares_exploitation (categories: forms,
-- as reported and rolled up). The base of a region-year is the countries reporting any known
-- category; UNKNOWN is no category and is reported beside the shares (unknown_persons, over the
-- same countries). Censored cells (<5) count as nothing in victims and share; share_low /
-- share_high bound the share over the values they can hide.
with victims as (
    select * from int_observations_regions
    where
        indicator = getvariable('victims_indicator')
        and sex = getvariable('total_code') and age = getvariable('total_code')
        and (value is not null or status = getvariable('censored_status'))
),

members as (
    select scheme, region_code, subregion_code, iso3 from ref_region_members
),

rollups as (
    select target, code, rolled_code from ref_rollups
),

model_vars as (
    select
        getvariable('min_countries_share_base')::integer as min_countries,
        getvariable('censored_max_value')::integer as censored_max
),

by_citizenship as (
    select * from victims
    where
        exploitation = getvariable('total_code')
        and citizenship <> getvariable('total_code')
),

by_exploitation as (
    select * from victims
    where
        citizenship = getvariable('total_code')
        and exploitation <> getvariable('total_code')
),

-- one row per known cell: its breakdown, level and category
flows as (
    select
        'citizenship' as breakdown, o.scheme, o.region_code as region, o.year, o.country,
        getvariable('detailed_level') as level,
        case
            when o.citizenship = getvariable('nationals_code') or o.citizenship = o.country
                then 'domestic'
            when c.iso3 is null then 'unattributable_' || lower(o.citizenship)
            when c.subregion_code = d.subregion_code then 'within_subregion'
            when c.region_code = d.region_code then 'within_region'
            else 'transregional'
        end as category,
        o.value, o.status = getvariable('censored_status') as censored
    from by_citizenship as o
    inner join members as d on d.scheme = o.scheme and d.iso3 = o.country
    left join members as c on c.scheme = o.scheme and c.iso3 = o.citizenship
    where o.citizenship <> getvariable('unknown_code')
),

forms as (
    select
        'exploitation' as breakdown, scheme, region_code as region, year, country,
        getvariable('detailed_level') as level, exploitation as category, value,
        status = getvariable('censored_status') as censored
    from by_exploitation
    where exploitation <> getvariable('unknown_code')
),

rolled_forms as (
    select
        'exploitation' as breakdown, o.scheme, o.region_code as region, o.year, o.country,
        r.target as level, r.rolled_code as category, o.value,
        o.status = getvariable('censored_status') as censored
    from by_exploitation as o
    inner join rollups as r on r.code = o.exploitation
    where o.exploitation <> getvariable('unknown_code')
),

known as (
    select * from flows
    union all
    select * from forms
    union all
    select * from rolled_forms
),

unknown_cells as (
    select 'citizenship' as breakdown, scheme, region_code as region, year, country, value
    from by_citizenship where citizenship = getvariable('unknown_code')
    union all
    select 'exploitation' as breakdown, scheme, region_code as region, year, country, value
    from by_exploitation where exploitation = getvariable('unknown_code')
),

base_countries as (
    select distinct breakdown, scheme, region, year, country
    from known
    where level = getvariable('detailed_level')
),

bases as (
    select breakdown, scheme, region, year, count(*) as base_countries
    from base_countries
    group by all
),

unknown as (
    select u.breakdown, u.scheme, u.region, u.year, sum(u.value) as unknown_persons
    from unknown_cells as u
    inner join base_countries as b using (breakdown, scheme, region, year, country)
    group by all
),

pooled as (
    select
        k.breakdown, k.scheme, k.region, k.year, k.level, k.category,
        coalesce(sum(k.value), 0) as victims,
        coalesce(sum(k.value), 0) + count(*) filter (where k.censored) * any_value(v.censored_max)
            as victims_high,
        count(*) filter (where k.censored) as censored_cells,
        count(distinct k.country) as n_countries
    from known as k
    cross join model_vars as v
    group by k.breakdown, k.scheme, k.region, k.year, k.level, k.category
),

with_base as (
    select
        p.*,
        sum(p.victims) over base as base_persons,
        sum(p.victims_high) over base as base_persons_high
    from pooled as p
    window base as (partition by p.breakdown, p.scheme, p.region, p.year, p.level)
),

final as (
    select
        p.breakdown, p.scheme, p.region, p.year, p.level, p.category, p.victims, p.victims_high,
        p.censored_cells, p.n_countries, p.base_persons, p.base_persons_high, b.base_countries,
        p.victims / nullif(p.base_persons, 0) as share,
        p.victims / nullif(p.victims + p.base_persons_high - p.victims_high, 0) as share_low,
        p.victims_high / nullif(p.victims_high + p.base_persons - p.victims, 0) as share_high,
        b.base_countries < v.min_countries as base_below_minimum,
        coalesce(u.unknown_persons, 0) as unknown_persons
    from with_base as p
    inner join bases as b using (breakdown, scheme, region, year)
    left join unknown as u using (breakdown, scheme, region, year)
    cross join model_vars as v
)

select * from final
