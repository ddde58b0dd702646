-- offending: more than one sdg_16_2_2 row for one SDMX key (series, country, sex, age, year)
select series, country, year, sex, age, count(*) as n_rows
from sdg_16_2_2
group by all
having count(*) > 1
