"""`tipstats export`: a run over a warehouse served by a stand-in reader, and the error path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from tipstats.cli import app
from tipstats.errors import TipstatsError

runner = CliRunner()
_HELPERS = Path(__file__).resolve().parents[1] / "unit" / "test_exports.py"


def _marts():
    spec = importlib.util.spec_from_file_location("export_fixtures", _HELPERS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cells = module.country_cells()
    sdg = module.sdg_mart(cells)
    return {**module.region_marts(cells, sdg), "sdg_16_2_2": sdg}


def test_export_without_warehouse_is_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--home", str(tmp_path)])
    assert isinstance(result.exception, TipstatsError)
    assert "no warehouse" in str(result.exception)


def test_export_writes_a_run_folder(tmp_path: Path) -> None:
    # A warehouse file holding mart-shaped tables, read through tipstats.warehouse.read_tables.
    database = tmp_path / "warehouse" / "tipstats.duckdb"
    database.parent.mkdir(parents=True)
    con = duckdb.connect(str(database))
    for name, frame in _marts().items():
        con.register("frame", frame)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    con.close()
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["export", "--home", str(tmp_path), "--out", str(out), "--threshold", "10"]
    )
    assert result.exit_code == 0, result.output
    assert "country_table" in result.output and "exported" in result.output
    (folder,) = out.iterdir()
    assert (folder / "global_report_tables.xlsx").exists()
    assert '"threshold": 10' in (folder / "manifest.json").read_text()


def test_export_names_a_mart_not_built_yet(tmp_path: Path) -> None:
    database = tmp_path / "warehouse" / "tipstats.duckdb"
    database.parent.mkdir(parents=True)
    con = duckdb.connect(str(database))
    for name, frame in _marts().items():
        if name == "agg_trends":
            continue
        con.register("frame", frame)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    con.close()
    result = runner.invoke(app, ["export", "--home", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "note:" in result.output and "agg_trends" in result.output
