"""Bench: rebuild all marts over 200 countries x 20 years of synthetic observations.

Run: .venv/bin/python bench/bench_build.py  (target: under 10 s). The warehouse is generated
directly in an in-memory DuckDB with the columns of `current_observations` and `ref_*`: every
country-year has totals, sex x age, forms (detailed codes, unknown included) and citizenship
cells from a national source (POLICE, COURTS for convictions), about one cell in ten censored
(`<5`), and the same cells again from the compiled history (source OTHER) for half the countries,
so that `int_observations` has a source to choose. The build runs REPEATS times on fresh copies.
"""

from __future__ import annotations

import statistics
import time

import duckdb

from tipstats import sql_runner

N_COUNTRIES = 200
N_YEARS = 20
REPEATS = 3

SETUP = f"""
create table countries as
    select 'C' || lpad(i::varchar, 3, '0') as iso3, i from range({N_COUNTRIES}) t(i);
create table ref_region_members as
    select s.scheme, s.scheme || '_' || (i % s.n_regions) as region_code,
        s.scheme || ' region ' || (i % s.n_regions) as region_name, iso3,
        s.scheme || '_' || (i % (s.n_regions * 3)) as subregion_code,
        s.scheme || ' subregion ' || (i % (s.n_regions * 3)) as subregion_name
    from countries
    cross join (values ('M49', 5), ('SDG', 8), ('GLOTIP', 9), ('WORLD', 1)) s(scheme, n_regions);
create table ref_population as
    select iso3, 2000 + y as year, 1e6 * (1 + i) as population
    from countries cross join range({N_YEARS}) t(y);
create table ref_rollups as
    select * from (values
        ('DATAUNODC', 'SEXUAL', 'SEXUAL'), ('DATAUNODC', 'FORCED_LABOUR', 'FORCED_LABOUR'),
        ('DATAUNODC', 'BEGGING', 'OTHER'), ('DATAUNODC', 'FORCED_MARRIAGE', 'OTHER'),
        ('DATAUNODC', 'OTHER', 'OTHER'), ('DATAUNODC', 'UNKNOWN', 'UNKNOWN'),
        ('DATAUNODC', '_T', '_T'),
        ('SDG', 'SEXUAL', 'SEXUAL'), ('SDG', 'FORCED_LABOUR', 'FORCED_LABOUR'),
        ('SDG', 'BEGGING', 'OTHER'), ('SDG', 'FORCED_MARRIAGE', 'OTHER'),
        ('SDG', 'OTHER', 'OTHER'), ('SDG', 'UNKNOWN', 'UNKNOWN'), ('SDG', '_T', '_T')
    ) t(target, code, rolled_code);
create table cells as
    select * from (values
        ('_T', '_T', '_T'), ('F', 'Y_GE18', '_T'), ('F', 'Y0T17', '_T'),
        ('M', 'Y_GE18', '_T'), ('M', 'Y0T17', '_T'), ('F', '_T', '_T'), ('M', '_T', '_T'),
        ('_T', '_T', 'SEXUAL'), ('_T', '_T', 'FORCED_LABOUR'), ('_T', '_T', 'BEGGING'),
        ('_T', '_T', 'FORCED_MARRIAGE'), ('_T', '_T', 'OTHER'), ('_T', '_T', 'UNKNOWN'),
        ('F', 'Y_GE18', 'SEXUAL'), ('F', 'Y0T17', 'SEXUAL')
    ) t(sex, age, exploitation);
create table national as
    select c.iso3 as country, 2000 + y as year, ind as indicator, sex, age, exploitation,
        '_T' as citizenship, src as source, (hash(c.iso3, y, ind, sex, age, exploitation) % 500)
        as raw
    from countries as c cross join range({N_YEARS}) t(y) cross join cells
    cross join (values ('VICTIMS_DETECTED', 'POLICE'), ('PERSONS_CONVICTED', 'COURTS')) i(ind, src)
    union all
    select c.iso3, 2000 + y, 'VICTIMS_DETECTED', '_T', '_T', '_T', cit, 'POLICE',
        hash(c.iso3, y, cit) % 100
    from countries as c cross join range({N_YEARS}) t(y)
    cross join (values ('NATIONALS'), ('C001'), ('C150'), ('FOREIGN'), ('UNKNOWN')) z(cit);
create table current_observations as
    -- about one cell in ten is censored (<5): no value, status C; totals are always given
    select country, year, indicator, sex, age, exploitation, citizenship, source,
        case when raw % 10 = 0 and sex || age || exploitation || citizenship <> '_T_T_T_T'
            then null else raw end as value,
        case when raw % 10 = 0 and sex || age || exploitation || citizenship <> '_T_T_T_T'
            then 'C' else 'A' end as status,
        null as comment, 1 as source_row
    from national
    union all
    -- the compiled history repeats half the countries under source OTHER
    select country, year, indicator, sex, age, exploitation, citizenship, 'OTHER', raw + 1,
        'A', null, 1
    from national where hash(country) % 2 = 0;
"""


def main() -> None:
    seconds = []
    for _ in range(REPEATS):
        con = duckdb.connect(":memory:")
        con.execute(SETUP)  # a fresh warehouse each run; generating it is not timed
        n_obs = con.execute("select count(*) from current_observations").fetchone()[0]
        started = time.perf_counter()
        result = sql_runner.run(con)
        seconds.append(time.perf_counter() - started)
        con.close()
    print(result.to_string(index=False))  # noqa: T201 - a bench script reports on stdout
    print(  # noqa: T201
        f"{N_COUNTRIES} countries x {N_YEARS} years, {n_obs:,} observations; "
        f"build, audit and publish of {len(result)} models + seeds: median "
        f"{statistics.median(seconds):.2f} s, min {min(seconds):.2f} s, max {max(seconds):.2f} s "
        f"over {REPEATS} runs"
    )


if __name__ == "__main__":
    main()
