-- offending: a share published without its base (persons and countries), or with a base that
-- cannot hold it (no countries, no persons, or fewer persons than the part)
with shares as (
    select 'agg_shares_sex_age' as mart, scheme, region, year, share_group as part,
        persons as part_persons, share, base_persons, base_countries, base_below_minimum
    from agg_shares_sex_age
    union all
    select 'agg_shares_exploitation', scheme, region, year, level || ':' || form, victims,
        share, base_persons, base_countries, base_below_minimum
    from agg_shares_exploitation
    union all
    select 'agg_flows', scheme, region, year, flow, victims, share, base_persons,
        base_countries, base_below_minimum
    from agg_flows
),

final as (
    select *
    from shares
    where
        share is not null and (
            base_persons is null or base_countries is null or base_below_minimum is null
            or base_countries < 1 or base_persons <= 0 or part_persons > base_persons
        )
)

select * from final
