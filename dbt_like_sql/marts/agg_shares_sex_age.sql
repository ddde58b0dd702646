-- grain: scheme x region x year x indicator x share_group (women, girls, men, boys)
-- pooled shares over the countries reporting every group of ref_share_groups, each with a number
-- or as censored (<5); other countries do not enter the base. share = persons / base_persons,
-- with censored cells counted as nothing; share_low / share_high bound the share over every
-- value the censored cells can hide (0 .. censored_max_value).
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
        getvariable('censored_max_value')::integer as censored_max,
        (select count(*) from share_groups) as n_groups
),

grouped as (
    select
        o.scheme, o.region_code as region, o.year, o.indicator, o.country, o.value,
        o.status = getvariable('censored_status') as censored, g.share_group
    from observations as o
    inner join share_groups as g on g.sex = o.sex and g.age = o.age
),

complete_countries as (
    select g.scheme, g.region, g.year, g.indicator, g.country
    from grouped as g
    cross join model_vars as v
    group by g.scheme, g.region, g.year, g.indicator, g.country, v.n_groups
    having
        count(distinct g.share_group) = v.n_groups
        and count(g.value) + count(*) filter (where g.censored) = v.n_groups
),

pooled as (
    select
        g.scheme, g.region, g.year, g.indicator, g.share_group,
        coalesce(sum(g.value), 0) as persons,
        coalesce(sum(g.value), 0) + count(*) filter (where g.censored) * any_value(v.censored_max)
            as persons_high,
        count(*) filter (where g.censored) as censored_cells
    from grouped as g
    inner join complete_countries using (scheme, region, year, indicator, country)
    cross join model_vars as v
    group by all
),

bases as (
    select
        scheme, region, year, indicator,
        count(distinct country) as base_countries
    from complete_countries
    group by all
),

with_base as (
    select
        p.*,
        sum(p.persons) over base as base_persons,
        sum(p.persons_high) over base as base_persons_high
    from pooled as p
    window base as (partition by p.scheme, p.region, p.year, p.indicator)
),

final as (
    select
        w.scheme, w.region, w.year, w.indicator, w.share_group, w.persons, w.persons_high,
        w.censored_cells, w.base_persons, w.base_persons_high, b.base_countries,
        w.persons / nullif(w.base_persons, 0) as share,
        -- lowest: this group's censored cells at 0, every other group's at the maximum
        w.persons / nullif(w.persons + w.base_persons_high - w.persons_high, 0) as share_low,
        -- highest: this group's censored cells at the maximum, every other group's at 0
        w.persons_high / nullif(w.persons_high + w.base_persons - w.persons, 0) as share_high,
        b.base_countries < v.min_countries as base_below_minimum
    from with_base as w
    inner join bases as b using (scheme, region, year, indicator)
    cross join model_vars as v
)

select * from final
