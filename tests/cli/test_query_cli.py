"""`tipstats submit`, `query`, `history`, `export-parquet` as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from tipstats.cli import app
from tipstats.errors import TipstatsError

runner = CliRunner()
HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment\n"


def csv_file(folder: Path, name: str, total: int, year: int = 2022) -> Path:
    path = folder / name
    path.write_text(
        HEADER
        + f"CAN,{year},VICTIMS_DETECTED,_T,_T,_T,_T,{total},A,POLICE,\n"
        + f"CAN,{year},VICTIMS_DETECTED,F,_T,_T,_T,{total - 10},A,POLICE,\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    result = runner.invoke(
        app, ["submit", str(csv_file(tmp_path, "a.csv", 50)), "--home", str(tmp_path / "h")]
    )
    assert result.exit_code == 0, result.output
    assert "2 cells loaded for CAN" in result.output
    return tmp_path / "h"


def test_submit_twice_says_already_received(home: Path, tmp_path: Path) -> None:
    again = runner.invoke(app, ["submit", str(tmp_path / "a.csv"), "--home", str(home)])
    assert again.exit_code == 0
    assert "already received as submission 1" in again.output


def test_submit_rejected_exits_1_with_the_summary(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "CAN,2022,VICTIMS_DETECTED,_T,_T,_T,_T,-3,A,POLICE,\n")
    result = runner.invoke(app, ["submit", str(bad), "--home", str(home)])
    assert result.exit_code == 1
    assert "rejected" in result.output and "value." in result.output
    assert "nothing loaded" in result.output


def test_submit_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["submit", str(tmp_path / "nope.csv"), "--home", str(tmp_path)])
    assert isinstance(result.exception, TipstatsError) and result.exception.exit_code == 2


def test_submit_several_files_one_line_each_and_exit_1_if_any_rejected(
    home: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "CAN,2023,VICTIMS_DETECTED,_T,_T,_T,_T,-3,A,POLICE,\n")
    files = [csv_file(tmp_path, "b.csv", 60, year=2023), bad, tmp_path / "a.csv"]
    result = runner.invoke(app, ["submit", *map(str, files), "--home", str(home), "--workers", "1"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("b.csv: accepted, submission 2, 2 cells loaded for CAN")
    assert lines[1].startswith("bad.csv: rejected, submission 3 (1 errors")
    assert lines[2] == "a.csv: already received as submission 1 (accepted); nothing changed"
    assert lines[-1] == "3 files: 1 accepted, 1 rejected, 1 already received"


def test_submit_a_folder_of_good_files_exits_0(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for year in (2020, 2021):
        csv_file(folder, f"CAN_{year}.csv", 40, year=year)
    result = runner.invoke(app, ["submit", str(folder), "--home", str(tmp_path / "h")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 files: 2 accepted, 0 rejected, 0 already received"


def test_query_formats(home: Path) -> None:
    sql = "select sex, value from current_observations order by sex"
    as_csv = runner.invoke(app, ["query", sql, "--format", "csv", "--home", str(home)])
    assert as_csv.exit_code == 0 and as_csv.output == "sex,value\nF,40\n_T,50\n"
    as_json = runner.invoke(app, ["query", sql, "--format", "json", "--home", str(home)])
    assert json.loads(as_json.output) == [{"sex": "F", "value": 40}, {"sex": "_T", "value": 50}]
    as_table = runner.invoke(app, ["query", sql, "--home", str(home)])
    assert "2 rows" in as_table.output and "50" in as_table.output


def test_query_write_is_refused_and_database_unchanged(home: Path) -> None:
    database = home / "warehouse" / "tipstats.duckdb"

    def contents() -> list:
        with duckdb.connect(str(database), read_only=True) as con:
            return con.execute("select * from observations order by all").fetchall()

    before = contents()
    result = runner.invoke(app, ["query", "delete from observations", "--home", str(home)])
    assert isinstance(result.exception, TipstatsError)
    assert "read-only" in str(result.exception) and "DELETE" in str(result.exception)
    assert contents() == before


def test_history_lists_what_each_submission_changed(home: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["submit", str(csv_file(tmp_path, "b.csv", 60)), "--home", str(home)])
    result = runner.invoke(app, ["history", "CAN", "--format", "json", "--home", str(home)])
    rows = json.loads(result.output)
    assert [
        (r["submission_id"], r["status"], r["revised"], r["superseded_later"]) for r in rows
    ] == [
        (1, "superseded", 0, 2),
        (2, "accepted", 2, 0),
    ]
    empty = runner.invoke(app, ["history", "FRA", "--home", str(home)])
    assert "no submission for FRA" in empty.output


def test_export_parquet_command(home: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["submit", str(csv_file(tmp_path, "c.csv", 70, 2021)), "--home", str(home)])
    out = tmp_path / "pq"
    result = runner.invoke(app, ["export-parquet", "--out", str(out), "--home", str(home)])
    assert result.exit_code == 0 and "2 Parquet files" in result.output
    table = ds.dataset(out, partitioning="hive").to_table()
    assert sorted(table.column("year").to_pylist()) == [2021, 2021, 2022, 2022]


def test_submit_unreadable_file_is_one_line_and_logged(home: Path, tmp_path: Path) -> None:
    weird = tmp_path / "notes.pdf"
    weird.write_bytes(b"%PDF-1.4 not a submission")
    result = runner.invoke(app, ["submit", str(weird), "--home", str(home)])
    assert result.exit_code == 2  # an unsupported type is a usage problem
    assert "unsupported file type" in result.output
    assert "rejected, nothing loaded" in result.output
    log = runner.invoke(
        app,
        [
            "query",
            "select status from submissions where submission_id = 2",
            "--format",
            "csv",
            "--home",
            str(home),
        ],
    )
    assert log.output == "status\nrejected\n"
