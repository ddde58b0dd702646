-- grain: one current observation of the one source chosen per country x year x indicator
-- A country-year-indicator reported by several sources (e.g. a national submission from the
-- POLICE and the dataUNODC history, source OTHER) counts once: the source with the smallest
-- precedence in ref_source_precedence among those giving at least one figure (a value or a
-- censored cell) wins, with all its cells; the other sources' cells are left out, never mixed
-- in, so parts and totals always come from the same source.
with observations as (
    select * from stg_observations
),

precedence as (
    select indicator, source, precedence::integer as precedence from ref_source_precedence
),

by_source as (
    select
        o.country, o.year, o.indicator, o.source, p.precedence,
        count(o.value) + count(*) filter (where o.status = getvariable('censored_status'))
            as n_figures
    from observations as o
    left join precedence as p on p.indicator = o.indicator and p.source = o.source
    group by all
),

chosen as (
    select country, year, indicator, source
    from by_source
    qualify row_number() over (
        partition by country, year, indicator
        order by n_figures > 0 desc, precedence nulls last, source
    ) = 1
),

final as (
    select o.*
    from observations as o
    inner join chosen as c using (country, year, indicator, source)
)

select * from final
