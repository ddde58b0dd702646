"""Each audit in dbt_like_sql/tests/ returns the offending rows of hand-made bad marts."""

from __future__ import annotations

import duckdb

from tipstats import sql_runner

AUDITS = sql_runner.DEFAULT_PROJECT / "tests"


def _offending(con: duckdb.DuckDBPyConnection, audit: str) -> list[tuple]:
    return con.execute((AUDITS / f"{audit}.sql").read_text(encoding="utf-8")).fetchall()


def _share_marts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        create table agg_shares_sex_age as select * from (values
            ('WORLD', 'WLD', 2020, 'VICTIMS_DETECTED', 'women', 6.0, 0.6, 10.0, 2, true),
            ('WORLD', 'WLD', 2020, 'VICTIMS_DETECTED', 'men', 4.0, 0.4, 10.0, 2, true)
        ) t(scheme, region, year, indicator, share_group, persons, share, base_persons,
            base_countries, base_below_minimum)
    """)
    con.execute("""
        create table agg_shares_exploitation as select * from (values
            ('WORLD', 'WLD', 2020, 'DETAILED', 'SEXUAL', 5.0, 1, 0.5, 10.0, 1, true, 0.0),
            ('WORLD', 'WLD', 2020, 'DETAILED', 'BEGGING', 5.0, 1, 0.5, 10.0, 1, true, 0.0)
        ) t(scheme, region, year, level, form, victims, n_countries, share, base_persons,
            base_countries, base_below_minimum, unknown_persons)
    """)
    con.execute("""
        create table agg_flows as select * from (values
            ('WORLD', 'WLD', 2020, 'domestic', 4.0, 1, 4.0, 1, 1.0, true, 0.0)
        ) t(scheme, region, year, flow, victims, n_countries, base_persons, base_countries,
            share, base_below_minimum, unknown_persons)
    """)


def test_share_audits_pass_on_consistent_marts() -> None:
    con = duckdb.connect(":memory:")
    _share_marts(con)
    assert _offending(con, "shares_add_up_to_one") == []
    assert _offending(con, "no_share_without_base") == []


def test_shares_that_do_not_add_up_are_reported() -> None:
    con = duckdb.connect(":memory:")
    _share_marts(con)
    con.execute("update agg_shares_exploitation set share = 0.7 where form = 'SEXUAL'")
    rows = _offending(con, "shares_add_up_to_one")
    assert [(r[0], r[4]) for r in rows] == [("agg_shares_exploitation", "DETAILED")]


def test_a_share_without_its_base_is_reported() -> None:
    con = duckdb.connect(":memory:")
    _share_marts(con)
    con.execute("update agg_flows set base_countries = null")
    con.execute("update agg_shares_sex_age set base_persons = 3.0 where share_group = 'women'")
    rows = _offending(con, "no_share_without_base")
    assert sorted((r[0], r[4]) for r in rows) == [
        ("agg_flows", "domestic"),
        ("agg_shares_sex_age", "women"),
    ]


def test_a_trend_whose_base_year_is_not_100_is_reported() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table agg_trends as select * from (values
            ('WORLD', 'WLD', 'VICTIMS_DETECTED', 2019, 2019, 40, 2, ['AUT', 'DEU'], 100.0),
            ('WORLD', 'WLD', 'VICTIMS_DETECTED', 2020, 2020, 40, 2, ['AUT', 'DEU'], 90.0),
            ('WORLD', 'WLD', 'VICTIMS_DETECTED', 2019, 2020, 40, 3, ['AUT', 'DEU'], 100.0)
        ) t(scheme, region, indicator, base_year, year, value, panel_size, panel_countries,
            index)
    """)
    rows = _offending(con, "trends_base_year_is_100")
    assert sorted((r[3], r[4]) for r in rows) == [(2019, 2020), (2020, 2020)]


def test_two_rows_for_one_sdmx_key_are_reported() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table sdg_16_2_2 as select * from (values
            ('VC_HTF_DETV', 'AUT', 2020, '_T', '_T', 5),
            ('VC_HTF_DETV', 'AUT', 2020, '_T', '_T', 6),
            ('VC_HTF_DETV', 'AUT', 2021, '_T', '_T', 6)
        ) t(series, country, year, sex, age, value)
    """)
    assert _offending(con, "sdg_series_key_unique") == [("VC_HTF_DETV", "AUT", 2020, "_T", "_T", 2)]


def test_a_share_outside_its_censored_bounds_is_reported() -> None:
    con = duckdb.connect(":memory:")
    columns = "t(scheme, region, year, part, share_low, share, share_high)"
    con.execute(f"""
        create table agg_shares_sex_age as select scheme, region, year, part as share_group,
            share_low, share, share_high
        from (values ('WORLD', 'WLD', 2020, 'girls', 0.1, 0.2, 0.3)) {columns}
    """)
    con.execute(f"""
        create table agg_shares_exploitation as select scheme, region, year,
            'DETAILED' as level, part as form, share_low, share, share_high
        from (values ('WORLD', 'WLD', 2020, 'SEXUAL', 0.5, 0.4, 0.6)) {columns}
    """)
    con.execute(f"""
        create table agg_flows as select scheme, region, year, part as flow,
            share_low, share, share_high
        from (values ('WORLD', 'WLD', 2020, 'domestic', 0.5, 0.5, 1.2)) {columns}
    """)
    rows = _offending(con, "shares_within_censored_bounds")
    assert sorted((r[0], r[4]) for r in rows) == [
        ("agg_flows", "domestic"),
        ("agg_shares_exploitation", "DETAILED:SEXUAL"),
    ]
