"""Bench: rebuild all marts over 200 countries x 20 years of synthetic observations.

Run: .venv/bin/python bench/bench_build.py  (target: under 10 s). The warehouse is generated
directly in an in-memory DuckDB with the columns of `current_observations` and `ref_*`.
"""

from __future__ import annotations

import time

import duckdb

from tipstats import sql_runner

N_COUNTRIES = 200
N_YEARS = 20

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
        ('DATAUNODC', 'OTHER', 'OTHER'), ('SDG', 'SEXUAL', 'SEXUAL'),
        ('SDG', 'FORCED_LABOUR', 'FORCED_LABOUR'), ('SDG', 'OTHER', 'OTHER')
    ) t(target, code, rolled_code);
create table cells as
    select * from (values
        ('_T', '_T', '_T'), ('F', 'Y_GE18', '_T'), ('F', 'Y0T17', '_T'),
        ('M', 'Y_GE18', '_T'), ('M', 'Y0T17', '_T'), ('_T', '_T', 'SEXUAL'),
        ('_T', '_T', 'FORCED_LABOUR'), ('_T', '_T', 'OTHER')
    ) t(sex, age, exploitation);
create table current_observations as
    select c.iso3 as country, 2000 + y as year, ind as indicator, sex, age, exploitation,
        '_T' as citizenship, 'POLICE' as source, (hash(c.iso3, y, ind, sex, age) % 500)::double
        as value, 'A' as status, null as comment, 1 as source_row
    from countries as c cross join range({N_YEARS}) t(y) cross join cells
    cross join (values ('VICTIMS_DETECTED'), ('PERSONS_CONVICTED')) i(ind)
    union all
    select c.iso3, 2000 + y, 'VICTIMS_DETECTED', '_T', '_T', '_T', cit, 'POLICE',
        (hash(c.iso3, y, cit) % 100)::double, 'A', null, 1
    from countries as c cross join range({N_YEARS}) t(y)
    cross join (values ('NATIONALS'), ('C001'), ('C150'), ('UNKNOWN')) z(cit);
"""


def main() -> None:
    con = duckdb.connect(":memory:")
    con.execute(SETUP)
    n_obs = con.execute("select count(*) from current_observations").fetchone()[0]
    started = time.perf_counter()
    result = sql_runner.run(con)
    seconds = time.perf_counter() - started
    print(result.to_string(index=False))  # noqa: T201 - a bench script reports on stdout
    print(f"{N_COUNTRIES} countries x {N_YEARS} years, {n_obs:,} observations: {seconds:.2f} s")  # noqa: T201


if __name__ == "__main__":
    main()
