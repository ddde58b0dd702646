-- offending: a country x year x indicator whose figures in int_observations come from more
-- than one source (they would be double counted)
select country, year, indicator, count(distinct source) as n_sources
from int_observations
group by all
having count(distinct source) > 1
