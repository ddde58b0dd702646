-- grain: scheme x region x year x indicator x group (women, girls, men, boys)
-- pooled shares: sum of a group over the countries reporting all four sex x age cells,
-- divided by the sum of those four cells; other countries do not enter the base.
with observations as (
    select * from stg_observations
    where
        indicator in ('VICTIMS_DETECTED', 'PERSONS_CONVICTED')
        and exploitation = '_T' and citizenship = '_T'
        and sex in ('F', 'M') and age in ('Y0T17', 'Y_GE18')
),

model_vars as (
    select value::integer as min_countries from vars where name = 'min_countries_share_base'
),

grouped as (
    select
        scheme, region_code as region, year, indicator, country, value,
        case
            when sex = 'F' and age = 'Y_GE18' then 'women'
            when sex = 'F' then 'girls'
            when age = 'Y_GE18' then 'men'
            else 'boys'
        end as share_group
    from observations
),

complete_countries as (
    select scheme, region, year, indicator, country
    from grouped
    group by all
    having count(distinct share_group) = 4 and count(value) = 4
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
