-- offending: a trend whose base year is not 100, whose panel list does not match its size, or
-- whose panel is empty
select scheme, region, indicator, base_year, year, index, panel_size, panel_countries
from agg_trends
where
    (year = base_year and value > 0 and abs(index - 100) > 1e-9)
    or len(panel_countries) <> panel_size
    or panel_size < 1
