-- grain: scheme x region x indicator x base_year x year (every year of the window base_year ..
-- base_year + trend_window_years - 1)
-- totals over a fixed panel: the countries of the region that report the total (a value, not a
-- censored or missing cell) in every year of the window; index = 100 x value / value of the
-- base year, pct_change = percentage change from the previous year, both over that same panel.
with cells as (
    select scheme, region_code as region, indicator, country, year, value
    from int_observations_regions
    where
        sex = getvariable('total_code') and age = getvariable('total_code')
        and exploitation = getvariable('total_code') and citizenship = getvariable('total_code')
        and value is not null
),

model_vars as (
    select getvariable('trend_window_years')::integer as window_years
),

windows as (
    select distinct c.year as base_year, c.year + v.window_years - 1 as end_year
    from cells as c
    cross join model_vars as v
    where c.year + v.window_years - 1 <= (select max(year) from cells)
),

window_cells as (
    select w.base_year, w.end_year, c.*
    from cells as c
    inner join windows as w on c.year between w.base_year and w.end_year
),

panel as (
    select wc.scheme, wc.region, wc.indicator, wc.base_year, wc.end_year, wc.country
    from window_cells as wc
    cross join model_vars as v
    group by wc.scheme, wc.region, wc.indicator, wc.base_year, wc.end_year, wc.country,
        v.window_years
    having count(distinct wc.year) = v.window_years
),

panels as (
    select
        scheme, region, indicator, base_year, end_year,
        count(*) as panel_size,
        list(country order by country) as panel_countries
    from panel
    group by all
),

summed as (
    select wc.scheme, wc.region, wc.indicator, wc.base_year, wc.end_year, wc.year,
        sum(wc.value) as value
    from window_cells as wc
    inner join panel as p using (scheme, region, indicator, base_year, end_year, country)
    group by all
),

final as (
    select
        s.scheme, s.region, s.indicator, s.base_year, s.end_year, s.year, s.value,
        p.panel_size, p.panel_countries,
        100.0 * s.value / nullif(first_value(s.value) over trend, 0) as index,
        100.0 * (s.value / nullif(lag(s.value) over trend, 0) - 1) as pct_change
    from summed as s
    inner join panels as p using (scheme, region, indicator, base_year, end_year)
    window trend as (
        partition by s.scheme, s.region, s.indicator, s.base_year order by s.year
    )
)

select * from final
