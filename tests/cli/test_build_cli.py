"""`tipstats build`: publishes the marts, or exits 1 and keeps the published ones."""

from __future__ import annotations

from pathlib import Path

import duckdb
from typer.testing import CliRunner

from tipstats.cli import app
from tipstats.errors import TipstatsError

runner = CliRunner()
HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment\n"


def _submit(home: Path, folder: Path, name: str, total: int) -> None:
    path = folder / name
    path.write_text(HEADER + f"CAN,2022,VICTIMS_DETECTED,_T,_T,_T,_T,{total},A,POLICE,\n")
    result = runner.invoke(app, ["submit", str(path), "--home", str(home)])
    assert result.exit_code == 0, result.output


def _world_total(home: Path) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse" / "tipstats.duckdb"), read_only=True)
    try:
        return con.execute(
            "select value, n_countries from agg_totals where scheme = 'WORLD' "
            "and indicator = 'VICTIMS_DETECTED' and sex = '_T' and age = '_T' "
            "and exploitation = '_T'"
        ).fetchall()
    finally:
        con.close()


def test_build_publishes_then_a_failed_audit_exits_1_and_keeps_the_marts(tmp_path: Path) -> None:
    home = tmp_path / "h"
    _submit(home, tmp_path, "a.csv", 50)
    first = runner.invoke(app, ["build", "--home", str(home)])
    assert first.exit_code == 0, first.output
    assert "agg_totals" in first.output and "sdg_16_2_2" in first.output
    assert _world_total(home) == [(50, 1)]

    # new data, and reference data broken so that Canada has no GLOTIP region
    _submit(home, tmp_path, "b.csv", 80)
    con = duckdb.connect(str(home / "warehouse" / "tipstats.duckdb"))
    con.execute("delete from ref_region_members where iso3 = 'CAN' and scheme = 'GLOTIP'")
    con.close()
    second = runner.invoke(app, ["build", "--home", str(home)])
    assert second.exit_code == 1
    assert "one_region_per_scheme" in second.output
    assert "CAN" in second.output
    assert _world_total(home) == [(50, 1)]


def test_build_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    home = tmp_path / "h"
    _submit(home, tmp_path, "a.csv", 50)
    result = runner.invoke(app, ["build", "--select", "nope+", "--home", str(home)])
    assert isinstance(result.exception, TipstatsError)
    assert result.exception.exit_code == 2
