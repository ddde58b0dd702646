from __future__ import annotations

import duckdb
import pytest

from tipstats import sql_runner


def test_flows_from_citizenship_against_the_detecting_country() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'NATIONALS', 5.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'DEU', 3.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'FRA', 2.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'NGA', 7.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'UNKNOWN', 3.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 20.0, 'A')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('GLOTIP', 'EUR', 'Europe', 'AUT', 'WCE', 'Western and Central Europe'),
            ('GLOTIP', 'EUR', 'Europe', 'DEU', 'WCE', 'Western and Central Europe'),
            ('GLOTIP', 'EUR', 'Europe', 'FRA', 'SEE', 'South-eastern Europe'),
            ('GLOTIP', 'AFR', 'Africa', 'NGA', 'WAF', 'West Africa')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute("create table ref_population (iso3 varchar, year integer, population double)")
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    sql_runner.run(con)
    got = con.execute(
        "select flow, victims, share, base_persons, base_countries, unknown_persons "
        "from agg_flows where region = 'EUR' order by flow"
    ).fetchall()
    # shares are of the 17 victims with known citizenship; the 3 UNKNOWN are reported beside
    assert got == [
        ("domestic", 5.0, pytest.approx(5 / 17), 17.0, 1, 3.0),
        ("transregional", 7.0, pytest.approx(7 / 17), 17.0, 1, 3.0),
        ("within_region", 2.0, pytest.approx(2 / 17), 17.0, 1, 3.0),
        ("within_subregion", 3.0, pytest.approx(3 / 17), 17.0, 1, 3.0),
    ]


def test_censored_flows_count_as_nothing_with_bounds() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'NATIONALS', 6, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'DEU', null, 'C')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('GLOTIP', 'EUR', 'Europe', 'AUT', 'WCE', 'Western and Central Europe'),
            ('GLOTIP', 'EUR', 'Europe', 'DEU', 'WCE', 'Western and Central Europe')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute("create table ref_population (iso3 varchar, year integer, population double)")
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    sql_runner.run(con)
    got = con.execute(
        "select flow, victims, victims_high, censored_cells, base_persons, base_persons_high, "
        "share, share_low, share_high from agg_flows order by flow"
    ).fetchall()
    assert got == [
        ("domestic", 6, 6, 0, 6, 10, 1.0, pytest.approx(0.6), 1.0),
        ("within_subregion", 0, 4, 1, 6, 10, 0.0, 0.0, pytest.approx(0.4)),
    ]
