from __future__ import annotations

import duckdb
import pytest

from tipstats import sql_runner


def test_index_and_change_over_a_fixed_panel() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2019, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 10, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 20, 'A'),
            ('AUT', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 15, 'A'),
            ('DEU', 2019, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 30, 'A'),
            ('DEU', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 20, 'A'),
            ('DEU', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 45, 'A'),
            -- FRA misses 2020: it stays out of the panel, its 1,000 victims do not move the index
            ('FRA', 2019, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 1000, 'A'),
            ('FRA', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 1000, 'A'),
            -- ITA is censored in 2021 (no number): out of the panel too
            ('ITA', 2019, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 8, 'A'),
            ('ITA', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 9, 'A'),
            ('ITA', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', null, 'C'),
            -- breakdowns do not enter the trend
            ('AUT', 2019, 'VICTIMS_DETECTED', 'F', '_T', '_T', '_T', 7, 'A')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('WORLD', 'WLD', 'World', 'AUT', 'WLD', 'World'),
            ('WORLD', 'WLD', 'World', 'DEU', 'WLD', 'World'),
            ('WORLD', 'WLD', 'World', 'FRA', 'WLD', 'World'),
            ('WORLD', 'WLD', 'World', 'ITA', 'WLD', 'World')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute("create table ref_population (iso3 varchar, year integer, population double)")
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    sql_runner.run(con)
    got = con.execute(
        "select base_year, end_year, year, value, panel_size, panel_countries, index, pct_change "
        "from agg_trends order by base_year, year"
    ).fetchall()
    assert got == [
        (2019, 2021, 2019, 40, 2, ["AUT", "DEU"], 100.0, None),
        (2019, 2021, 2020, 40, 2, ["AUT", "DEU"], 100.0, 0.0),
        (2019, 2021, 2021, 60, 2, ["AUT", "DEU"], pytest.approx(150.0), pytest.approx(50.0)),
    ]


def test_window_length_comes_from_vars(tmp_path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    source = sql_runner.DEFAULT_PROJECT
    for item in source.rglob("*"):
        target = project / item.relative_to(source)
        if item.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            text = item.read_text(encoding="utf-8")
            if item.name == "vars.csv":
                text = text.replace("trend_window_years,3,", "trend_window_years,2,")
            target.write_text(text, encoding="utf-8")
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2019, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 10, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 5, 'A'),
            ('AUT', 2021, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 20, 'A')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('WORLD', 'WLD', 'World', 'AUT', 'WLD', 'World')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute("create table ref_population (iso3 varchar, year integer, population double)")
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    sql_runner.run(con, project=project)
    got = con.execute(
        "select base_year, year, index, pct_change from agg_trends order by base_year, year"
    ).fetchall()
    assert got == [
        (2019, 2019, 100.0, None),
        (2019, 2020, 50.0, -50.0),
        (2020, 2020, 100.0, None),
        (2020, 2021, 400.0, 300.0),
    ]
