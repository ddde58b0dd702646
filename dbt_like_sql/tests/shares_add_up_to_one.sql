-- offending: pooled shares of one base that do not add up to 1, or a share without its base
select scheme, region, year, indicator, sum(share) as total_share, min(base_persons) as base
from agg_shares_sex_age
group by all
having abs(sum(share) - 1) > 1e-6 or min(base_persons) is null or min(base_countries) is null
