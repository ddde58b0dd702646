-- grain: scheme x region x year x indicator x share_group (women, girls, men, boys)
-- pooled shares: sum of a group over the countries reporting every group of ref_share_groups,
-- divided by the sum of those groups; other countries do not enter the base.
with share_groups as (
    select share_group, sex, age from ref_share_groups
),

observations as (
    select * from int_observations_regions
    where
        list_contains(string_split(getvariable('share_indicators'), ','), indicator)
        and exploitation = getvariable('total_code') and citizenship = getvariable('total_code')
),

model_vars as (
    select
        getvariable('min_countries_share_base')::integer as min_countries,
        (select count(*) from share_groups) as n_groups
),

grouped as (
    select
        o.scheme, o.region_code as region, o.year, o.indicator, o.country, o.value,
        g.share_group
    from observations as o
    inner join share_groups as g on g.sex = o.sex and g.age = o.age
),

complete_countries as (
    select g.scheme, g.region, g.year, g.indicator, g.country
    from grouped as g
    cross join model_vars as v
    group by g.scheme, g.region, g.year, g.indicator, g.country, v.n_groups
    having count(distinct g.share_group) = v.n_groups and count(g.value) = v.n_groups
),

pooled as (
    select g.scheme, g.region, g.year, g.indicator, g.share_group, sum(g.value) as persons
    from grouped as g
    inner join complete_countries using (scheme, region, year, indicator, country)
    group by all
),

bases as (
    select
        scheme, region, year, indicator,
        count(distinct country) as base_countries
    from complete_countries
    group by all
),

final as (
    select
        p.scheme, p.region, p.year, p.indicator, p.share_group, p.persons,
        sum(p.persons) over (partition by p.scheme, p.region, p.year, p.indicator) as base_persons,
        b.base_countries,
        p.persons / nullif(
            sum(p.persons) over (partition by p.scheme, p.region, p.year, p.indicator), 0
        ) as share,
        b.base_countries < v.min_countries as base_below_minimum
    from pooled as p
    inner join bases as b using (scheme, region, year, indicator)
    cross join model_vars as v
)

select * from final
