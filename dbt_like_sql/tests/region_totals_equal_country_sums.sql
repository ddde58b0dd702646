-- offending: a regional total that differs from the sum of its member countries' values
with country_sums as (
    select
        m.scheme, m.region_code as region, o.year, o.indicator, o.sex, o.age, o.exploitation,
        sum(o.value) as country_sum
    from int_observations as o
    inner join ref_region_members as m on m.iso3 = o.country
    where o.citizenship = getvariable('total_code')
    group by all
),

final as (
    select t.scheme, t.region, t.year, t.indicator, t.value, c.country_sum
    from agg_totals as t
    inner join country_sums as c
        using (scheme, region, year, indicator, sex, age, exploitation)
    where t.value is distinct from c.country_sum
)

select * from final
