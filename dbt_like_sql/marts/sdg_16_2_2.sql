-- grain: series x country x year x sex x age (SDG 16.2.2 detected victims, citizenship total)
-- each series is one form of exploitation of the SDG roll-up (ref_sdg_series): the reported
-- forms are rolled up through ref_rollups (target sdg_rollup_target) and summed; forms that roll
-- up to no series (UNKNOWN) are left out. rate_per_100k = 100,000 x value / population.
with observations as (
    select * from int_observations
    where
        indicator = getvariable('victims_indicator')
        and citizenship = getvariable('total_code')
),

rollups as (
    select code, rolled_code from ref_rollups where target = getvariable('sdg_rollup_target')
),

series as (
    select series, exploitation from ref_sdg_series
),

population as (
    select iso3, year, population from ref_population
),

rolled as (
    select
        s.series, o.country, o.year, o.sex, o.age, s.exploitation, o.value, o.status, o.source,
        o.status = getvariable('censored_status') as censored
    from observations as o
    inner join rollups as r on r.code = o.exploitation
    inner join series as s on s.exploitation = r.rolled_code
),

summed as (
    select
        series, country, year, sex, age, exploitation,
        count(*) as n_cells,
        count(value) as n_values,
        count(*) filter (where censored) as n_censored,
        sum(value) as value_known,
        count(distinct status) as n_statuses,
        any_value(status) as any_status,
        any_value(source) as source
    from rolled
    group by all
),

final as (
    select
        s.series, s.country, s.year, s.sex, s.age, s.exploitation,
        -- a single number only when every part is known; bounds when censored parts remain
        case when s.n_values = s.n_cells then s.value_known end as value,
        case
            when s.n_values + s.n_censored = s.n_cells then coalesce(s.value_known, 0)
        end as value_low,
        case
            when s.n_values + s.n_censored = s.n_cells
                then coalesce(s.value_known, 0)
                + s.n_censored * getvariable('censored_max_value')::integer
        end as value_high,
        case
            when s.n_censored > 0 then getvariable('censored_status')
            when s.n_statuses = 1 then s.any_status
        end as status,
        s.source,
        p.population,
        100000.0 * (case when s.n_values = s.n_cells then s.value_known end)
        / nullif(p.population, 0) as rate_per_100k
    from summed as s
    left join population as p on p.iso3 = s.country and p.year = s.year
)

select * from final
