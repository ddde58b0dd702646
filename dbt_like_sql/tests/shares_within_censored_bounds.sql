-- offending: a sex x age share outside its censored bounds, or bounds outside [0, 1]
select scheme, region, year, indicator, share_group, share_low, share, share_high
from agg_shares_sex_age
where
    share < share_low - 1e-9 or share > share_high + 1e-9
    or share_low < 0 or share_high > 1 + 1e-9
