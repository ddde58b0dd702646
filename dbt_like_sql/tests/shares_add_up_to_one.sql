-- offending: pooled shares of one base that do not add up to 1 (within rounding)
with shares as (
    select 'agg_shares_sex_age' as mart, scheme, region, year, indicator as part_of, share
    from agg_shares_sex_age
    union all
    select 'agg_shares_exploitation', scheme, region, year, level, share
    from agg_shares_exploitation
    union all
    select 'agg_flows', scheme, region, year, 'flows', share
    from agg_flows
),

final as (
    select mart, scheme, region, year, part_of, sum(share) as total_share
    from shares
    group by all
    -- a base of 0 persons has no shares at all (null), which is not an error
    having count(share) > 0 and abs(sum(share) - 1) > 1e-6
)

select * from final
