-- offending: an indicator x source in the current observations with no row in
-- ref_source_precedence (its figures could neither be chosen nor ruled out)
with reported as (
    select distinct indicator, source from current_observations
),

final as (
    select r.indicator, r.source
    from reported as r
    left join ref_source_precedence as p on p.indicator = r.indicator and p.source = r.source
    where p.source is null
)

select * from final
