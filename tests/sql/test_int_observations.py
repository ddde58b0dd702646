from __future__ import annotations

import duckdb

from tipstats import sql_runner


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select * from (values
            -- CAN 2021 victims: a national file (POLICE) and the dataUNODC history (OTHER)
            ('CAN', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 118, 'A', 'POLICE'),
            ('CAN', 2021, 'VICTIMS_DETECTED', '_T', '_T', 'SEXUAL', '_T', 53, 'A', 'POLICE'),
            ('CAN', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 100, 'A', 'OTHER'),
            ('CAN', 2021, 'VICTIMS_DETECTED', 'F', '_T', '_T', '_T', 90, 'A', 'OTHER'),
            -- convictions: COURTS come before POLICE
            ('CAN', 2021, 'PERSONS_CONVICTED', '_T', '_T', '_T', '_T', 7, 'A', 'POLICE'),
            ('CAN', 2021, 'PERSONS_CONVICTED', '_T', '_T', '_T', '_T', 9, 'A', 'COURTS'),
            -- a source with no figure at all (not available) does not win
            ('CAN', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', null, 'M', 'POLICE'),
            ('CAN', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 80, 'A', 'OTHER'),
            -- a censored cell is a figure: POLICE wins over OTHER
            ('CAN', 2019, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', null, 'C', 'POLICE'),
            ('CAN', 2019, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 60, 'A', 'OTHER'),
            -- one source only: kept as it is
            ('USA', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 500, 'A', 'OTHER')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status, source)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('WORLD', 'WLD', 'World', 'CAN', 'WLD', 'World'),
            ('WORLD', 'WLD', 'World', 'USA', 'WLD', 'World')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute("create table ref_population (iso3 varchar, year integer, population double)")
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    return con


def test_one_source_per_country_year_indicator() -> None:
    con = _warehouse()
    sql_runner.run(con)
    got = con.execute(
        "select country, year, indicator, sex, exploitation, value, source from int_observations "
        "order by country, year, indicator, sex, exploitation"
    ).fetchall()
    assert got == [
        ("CAN", 2019, "VICTIMS_DETECTED", "_T", "_T", None, "POLICE"),
        ("CAN", 2020, "VICTIMS_DETECTED", "_T", "_T", 80, "OTHER"),
        ("CAN", 2021, "PERSONS_CONVICTED", "_T", "_T", 9, "COURTS"),
        ("CAN", 2021, "VICTIMS_DETECTED", "_T", "SEXUAL", 53, "POLICE"),
        ("CAN", 2021, "VICTIMS_DETECTED", "_T", "_T", 118, "POLICE"),
        ("USA", 2021, "VICTIMS_DETECTED", "_T", "_T", 500, "OTHER"),
    ]


def test_world_total_counts_each_country_once() -> None:
    con = _warehouse()
    sql_runner.run(con)
    got = con.execute(
        "select value, n_countries from agg_totals where scheme = 'WORLD' and year = 2021 "
        "and indicator = 'VICTIMS_DETECTED' and sex = '_T' and exploitation = '_T'"
    ).fetchall()
    assert got == [(618, 2)]


def test_a_source_without_precedence_fails_the_build() -> None:
    con = _warehouse()
    con.execute(
        "insert into current_observations values "
        "('USA', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 3, 'A', 'ASTROLOGY')"
    )
    try:
        sql_runner.run(con)
    except sql_runner.SqlTestFailed as failure:
        assert "every_source_has_a_precedence" in str(failure)
        assert "ASTROLOGY" in str(failure)
    else:
        raise AssertionError("the build should fail")
