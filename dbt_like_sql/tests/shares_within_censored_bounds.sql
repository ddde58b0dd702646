-- offending: a share outside its censored bounds, or bounds outside [0, 1]
with shares as (
    select 'agg_shares_sex_age' as mart, scheme, region, year, share_group as part, share_low,
        share, share_high
    from agg_shares_sex_age
    union all
    select 'agg_shares_exploitation', scheme, region, year, level || ':' || form, share_low,
        share, share_high
    from agg_shares_exploitation
    union all
    select 'agg_flows', scheme, region, year, flow, share_low, share, share_high
    from agg_flows
),

final as (
    select *
    from shares
    where
        share < share_low - 1e-9 or share > share_high + 1e-9
        or share_low < 0 or share_high > 1 + 1e-9
)

select * from final
