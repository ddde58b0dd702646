"""`tipstats export`: a run over a warehouse served by a stand-in reader, and the error path."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest
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


def test_export_writes_a_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "warehouse" / "tipstats.duckdb"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"")
    marts = _marts()
    asked: list[list[str]] = []

    def read_tables(home, names):
        asked.append(list(names))
        return {name: marts.get(name) for name in names}

    # The real warehouse module reads DuckDB; here a stand-in serves the mart frames.
    monkeypatch.setitem(
        sys.modules, "tipstats.warehouse", types.SimpleNamespace(read_tables=read_tables)
    )
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["export", "--home", str(tmp_path), "--out", str(out), "--threshold", "10"]
    )
    assert result.exit_code == 0, result.output
    assert "country_table" in result.output and "exported" in result.output
    (folder,) = out.iterdir()
    assert (folder / "global_report_tables.xlsx").exists()
    assert '"threshold": 10' in (folder / "manifest.json").read_text()
    assert "sdg_16_2_2" in asked[0] and "submissions" in asked[0]
