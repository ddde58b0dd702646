from __future__ import annotations

import duckdb
import pytest

from tipstats import sql_runner
from tipstats.errors import TipstatsError


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 10.0, 'A'),
            ('DEU', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 30.0, 'A'),
            ('FRA', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', null, 'C')
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
    con.execute("""
        create table ref_population as select * from (values
            ('AUT', 2020, 1000000.0), ('DEU', 2020, 3000000.0),
            ('FRA', 2020, 2000000.0), ('ITA', 2020, 4000000.0)
        ) t(iso3, year, population)
    """)
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    return con


def test_dependencies_are_parsed_and_ordered() -> None:
    models = sql_runner.discover()
    order = sql_runner.build_order(models)
    assert "int_observations_regions" in models["agg_totals"].depends_on
    assert order.index("int_observations") < order.index("agg_totals")


def test_select_syntax() -> None:
    models = sql_runner.discover()
    assert sql_runner.select_models(models, "stg_observations+") >= {
        "stg_observations",
        "agg_totals",
    }
    assert sql_runner.select_models(models, "+agg_totals") >= {"stg_observations", "agg_totals"}
    assert sql_runner.select_models(models, "agg_totals") == {"agg_totals"}
    with pytest.raises(TipstatsError, match="unknown model"):
        sql_runner.select_models(models, "nope+")


def test_agg_totals_given_expect() -> None:
    con = _warehouse()
    result = sql_runner.run(con)
    assert set(result["status"]) == {"published"}
    row = con.execute("select * from agg_totals").df().iloc[0]
    assert row["value"] == 40.0
    assert (row["value_low"], row["value_high"]) == (40.0, 44.0)
    assert row["n_countries"] == 3
    assert row["n_countries_in_region"] == 4
    assert row["population_reporting"] == 6_000_000.0
    assert row["population_coverage_share"] == pytest.approx(0.6)
    assert row["rate_per_100k"] == pytest.approx(40 * 100000 / 6_000_000)


def test_failed_audit_keeps_published_tables() -> None:
    con = _warehouse()
    sql_runner.run(con)
    before = con.execute("select value from agg_totals").fetchall()
    # a country without a region breaks the one-region-per-scheme audit
    con.execute(
        "insert into current_observations values "
        "('XXX', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 5.0, 'A', 'OTHER')"
    )
    con.execute("update current_observations set value = 99 where country = 'AUT'")
    with pytest.raises(sql_runner.SqlTestFailed, match="one_region_per_scheme"):
        sql_runner.run(con)
    assert con.execute("select value from agg_totals").fetchall() == before


def test_every_model_has_a_grain_comment() -> None:
    for model in sql_runner.discover().values():
        assert model.sql.startswith("-- grain:"), model.path


def test_every_model_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "aggregates.md").read_text()
    for name in sql_runner.discover():
        assert f"## {name}" in doc, name


def test_models_hold_no_code_list_literals() -> None:
    """Codes the models select on come from vars.csv or reference tables, not SQL strings."""
    import sqlglot
    from sqlglot import exp

    from tipstats.codelists import load_codelists

    codes = set(load_codelists().code_table["code"])
    for model in sql_runner.discover().values():
        tree = sqlglot.parse_one(model.sql, read="duckdb")
        literals = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
        assert not literals & codes, (model.path.name, sorted(literals & codes))


def test_vars_become_variables_and_bad_names_are_refused(tmp_path) -> None:
    con = duckdb.connect(":memory:")
    sql_runner.set_vars(con)
    assert con.execute("select getvariable('total_code')").fetchone() == ("_T",)
    (tmp_path / "vars.csv").write_text("name,value,meaning\nbad name,1,x\n")
    with pytest.raises(TipstatsError, match="bad variable name"):
        sql_runner.set_vars(con, tmp_path)
