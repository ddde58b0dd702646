from __future__ import annotations

import duckdb
import pytest

from tipstats import sql_runner


def test_shares_are_pooled_over_countries_with_the_full_breakdown() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2020, 'VICTIMS_DETECTED', 'F', 'Y_GE18', '_T', '_T', 6.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', 'F', 'Y0T17', '_T', '_T', 2.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', 'M', 'Y_GE18', '_T', '_T', 1.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', 'M', 'Y0T17', '_T', '_T', 1.0, 'A'),
            ('DEU', 2020, 'VICTIMS_DETECTED', 'F', 'Y_GE18', '_T', '_T', 4.0, 'A'),
            ('DEU', 2020, 'VICTIMS_DETECTED', 'F', 'Y0T17', '_T', '_T', 0.0, 'A'),
            ('DEU', 2020, 'VICTIMS_DETECTED', 'M', 'Y_GE18', '_T', '_T', 6.0, 'A'),
            ('DEU', 2020, 'VICTIMS_DETECTED', 'M', 'Y0T17', '_T', '_T', 0.0, 'A'),
            -- FRA reports only women: it stays out of the base
            ('FRA', 2020, 'VICTIMS_DETECTED', 'F', 'Y_GE18', '_T', '_T', 100.0, 'A')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('WORLD', 'WLD', 'World', 'AUT', 'WLD', 'World'),
            ('WORLD', 'WLD', 'World', 'DEU', 'WLD', 'World'),
            ('WORLD', 'WLD', 'World', 'FRA', 'WLD', 'World')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute("create table ref_population (iso3 varchar, year integer, population double)")
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    sql_runner.run(con)
    got = con.execute(
        "select share_group, persons, share, base_persons, base_countries, base_below_minimum "
        "from agg_shares_sex_age order by share_group"
    ).fetchall()
    assert got == [
        ("boys", 1.0, pytest.approx(0.05), 20.0, 2, True),
        ("girls", 2.0, pytest.approx(0.10), 20.0, 2, True),
        ("men", 7.0, pytest.approx(0.35), 20.0, 2, True),
        ("women", 10.0, pytest.approx(0.50), 20.0, 2, True),
    ]


def test_censored_cells_enter_the_base_with_bounds() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2020, 'VICTIMS_DETECTED', 'F', 'Y_GE18', '_T', '_T', 10, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', 'F', 'Y0T17', '_T', '_T', 2, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', 'M', 'Y_GE18', '_T', '_T', 4, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', 'M', 'Y0T17', '_T', '_T', 4, 'A'),
            -- ITA's girls are "<5": in the base, as 0 in share and 0..4 in the bounds
            ('ITA', 2020, 'VICTIMS_DETECTED', 'F', 'Y_GE18', '_T', '_T', 5, 'A'),
            ('ITA', 2020, 'VICTIMS_DETECTED', 'F', 'Y0T17', '_T', '_T', null, 'C'),
            ('ITA', 2020, 'VICTIMS_DETECTED', 'M', 'Y_GE18', '_T', '_T', 3, 'A'),
            ('ITA', 2020, 'VICTIMS_DETECTED', 'M', 'Y0T17', '_T', '_T', 2, 'A'),
            -- ESP misses boys (not even censored): out of the base
            ('ESP', 2020, 'VICTIMS_DETECTED', 'F', 'Y_GE18', '_T', '_T', 50, 'A'),
            ('ESP', 2020, 'VICTIMS_DETECTED', 'F', 'Y0T17', '_T', '_T', 50, 'A'),
            ('ESP', 2020, 'VICTIMS_DETECTED', 'M', 'Y_GE18', '_T', '_T', 50, 'A')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('WORLD', 'WLD', 'World', 'AUT', 'WLD', 'World'),
            ('WORLD', 'WLD', 'World', 'ITA', 'WLD', 'World'),
            ('WORLD', 'WLD', 'World', 'ESP', 'WLD', 'World')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute("create table ref_population (iso3 varchar, year integer, population double)")
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    sql_runner.run(con)
    got = con.execute(
        "select share_group, persons, persons_high, censored_cells, base_persons, "
        "base_persons_high, base_countries, share, share_low, share_high "
        "from agg_shares_sex_age order by share_group"
    ).fetchall()
    approx = pytest.approx
    assert got == [
        ("boys", 6, 6, 0, 30, 34, 2, approx(6 / 30), approx(6 / 34), approx(6 / 30)),
        ("girls", 2, 6, 1, 30, 34, 2, approx(2 / 30), approx(2 / 30), approx(6 / 34)),
        ("men", 7, 7, 0, 30, 34, 2, approx(7 / 30), approx(7 / 34), approx(7 / 30)),
        ("women", 15, 15, 0, 30, 34, 2, approx(15 / 30), approx(15 / 34), approx(15 / 30)),
    ]
