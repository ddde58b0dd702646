-- grain: scheme x region x year x indicator x sex x age x exploitation (citizenship total)
with observations as (
    select * from int_observations_regions where citizenship = getvariable('total_code')
),

members as (
    select scheme, region_code, count(distinct iso3) as n_countries_in_region
    from ref_region_members group by all
),

population as (
    select iso3, year, population from ref_population
),

summed as (
    select
        o.scheme, o.region_code as region, o.year, o.indicator, o.sex, o.age, o.exploitation,
        sum(o.value) as value,
        sum(coalesce(o.value, 0)) as value_low,
        sum(coalesce(o.value, case
            when o.status = getvariable('censored_status')
                then getvariable('censored_max_value')::integer
        end)) as value_high,
        count(distinct o.country) as n_countries,
        sum(p.population) as population_reporting
    from observations as o
    left join population as p on p.iso3 = o.country and p.year = o.year
    group by all
),

with_region_population as (
    select r.scheme, r.region_code, p.year, sum(p.population) as population_region
    from ref_region_members as r inner join population as p on p.iso3 = r.iso3
    group by all
),

final as (
    select
        s.scheme, s.region, s.year, s.indicator, s.sex, s.age, s.exploitation,
        s.value, s.value_low, s.value_high, s.n_countries, m.n_countries_in_region,
        s.population_reporting,
        s.population_reporting / nullif(w.population_region, 0) as population_coverage_share,
        100000.0 * s.value / nullif(s.population_reporting, 0) as rate_per_100k
    from summed as s
    inner join members as m on m.scheme = s.scheme and m.region_code = s.region
    left join with_region_population as w
        on w.scheme = s.scheme and w.region_code = s.region and w.year = s.year
)

select * from final
