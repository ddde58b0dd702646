-- offending: a coverage share outside [0, 1]
select * from agg_totals
where population_coverage_share < 0 or population_coverage_share > 1 + 1e-9
