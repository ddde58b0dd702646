"""Every ```sql block of docs/warehouse.md runs, read-only, on a small warehouse and finds rows."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tipstats import warehouse as W
from tipstats.home import Home

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"
HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment\n"


def sql_blocks() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def submission(folder: Path, name: str, country: str, total: int, females: int) -> Path:
    path = folder / name
    path.write_text(
        HEADER
        + f"{country},2022,VICTIMS_DETECTED,_T,_T,_T,_T,{total},A,POLICE,\n"
        + f"{country},2022,VICTIMS_DETECTED,F,_T,_T,_T,{females},A,POLICE,\n"
        + f"{country},2022,VICTIMS_DETECTED,M,_T,_T,_T,{total - females},A,POLICE,\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    folder = tmp_path_factory.mktemp("docs")
    home = Home(folder / "home")
    W.submit(submission(folder, "can.csv", "CAN", 100, 60), home, now=dt.datetime(2024, 3, 1))
    W.submit(submission(folder, "mex.csv", "MEX", 80, 50), home, now=dt.datetime(2024, 4, 1))
    W.submit(submission(folder, "can2.csv", "CAN", 110, 65), home, now=dt.datetime(2025, 6, 1))
    return home


def test_the_doc_has_example_queries() -> None:
    assert len(sql_blocks()) >= 5


@pytest.mark.parametrize("sql", sql_blocks(), ids=lambda s: s.strip().splitlines()[0][:40])
def test_documented_query_runs_and_finds_rows(home: Home, sql: str) -> None:
    result = W.query(home, sql)
    assert len(result) > 0, f"no rows for:\n{sql}"


def test_as_of_example_shows_the_old_figures(home: Home) -> None:
    block = next(b for b in sql_blocks() if "as_of(" in b)
    result = W.query(home, block)
    totals = result[result["sex"] == "_T"].set_index("country")["value"].to_dict()
    assert totals == {"CAN": 100, "MEX": 80}


def test_every_table_is_documented(home: Home) -> None:
    doc = DOC.read_text(encoding="utf-8")
    names = W.query(home, "select table_name from information_schema.tables")["table_name"]
    missing = [n for n in names if f"`{n}`" not in doc]
    assert not missing, f"tables not documented in docs/warehouse.md: {missing}"


def documented_columns(table: str) -> set[str]:
    """Column names in the first column of the doc's table under ``### `table` ``."""
    doc = DOC.read_text(encoding="utf-8")
    section = doc.split(f"### `{table}`\n", 1)[1].split("\n### ", 1)[0]
    cells = re.findall(r"^\| ([^|]+?) \|", section, flags=re.MULTILINE)
    return {name.strip() for cell in cells for name in cell.split(",")} - {"column", "---"}


@pytest.mark.parametrize("table", ["submissions", "estimates"])
def test_every_column_is_documented(home: Home, table: str) -> None:
    actual = set(W.query(home, f"select * from {table} limit 0").columns)
    assert documented_columns(table) == actual


# The submission log as issue #4 lists it -> the column that holds it.
ISSUE_4_LOG = {
    "id": "submission_id",
    "sha256": "sha256",
    "original name": "original_name",
    "country": "country",
    "layout": "layout",
    "received_at": "received_at",
    "status": "status",
    "count of rows": "n_rows",
    "count of errors": "n_errors",
    "count of warnings": "n_warnings",
    "report path": "report_path",
}


def test_the_submission_log_holds_what_the_issue_asks(home: Home) -> None:
    columns = set(W.query(home, "select * from submissions limit 0").columns)
    assert set(ISSUE_4_LOG.values()) <= columns
    statuses = W.query(
        home,
        "select constraint_text from duckdb_constraints() "
        "where table_name = 'submissions' and constraint_type = 'CHECK'",
    )["constraint_text"].str.cat()
    for status in ("accepted", "rejected", "superseded"):
        assert f"'{status}'" in statuses
    log = W.query(home, "select submission_id, status from submissions order by 1")
    assert log.values.tolist() == [[1, "superseded"], [2, "accepted"], [3, "accepted"]]
