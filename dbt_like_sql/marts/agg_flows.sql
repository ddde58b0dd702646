-- grain: scheme x region (of detection) x year x flow
-- flow of each detected victim from citizenship against the detecting country:
-- NATIONALS = domestic; an ISO3 citizenship in the same sub-region / region / elsewhere;
-- FOREIGN cannot be placed and is its own flow (unattributable_foreign). Shares are of the
-- victims with known citizenship: UNKNOWN is no flow and is reported beside the shares
-- (unknown_persons, over the same countries). The pooling and the censored bounds are those of
-- int_known_category_shares, shared with agg_shares_exploitation.
with shares as (
    select * from int_known_category_shares where breakdown = 'citizenship'
),

final as (
    select
        scheme, region, year, category as flow, victims, victims_high, censored_cells,
        n_countries, base_persons, base_persons_high, base_countries, share, share_low,
        share_high, base_below_minimum, unknown_persons
    from shares
)

select * from final
