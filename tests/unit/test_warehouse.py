"""The warehouse: vintages, as-of, idempotent and rejected submissions, reads, Parquet."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest

from tipstats import columns as C
from tipstats import warehouse as W
from tipstats.errors import TipstatsError
from tipstats.home import Home

HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment\n"


def obs(rows: list[tuple]) -> pd.DataFrame:
    """Canonical observations from (country, year, sex, exploitation, value) tuples."""
    frame = pd.DataFrame(
        [
            {
                C.COUNTRY: country,
                C.YEAR: year,
                C.INDICATOR: "VICTIMS_DETECTED",
                C.SEX: sex,
                C.AGE: "_T",
                C.EXPLOITATION: exploitation,
                C.CITIZENSHIP: "_T",
                C.SOURCE: "POLICE",
                C.VALUE: value,
                C.STATUS: "A",
                C.COMMENT: None,
                C.SOURCE_ROW: i + 2,
            }
            for i, (country, year, sex, exploitation, value) in enumerate(rows)
        ]
    )
    return frame.astype({C.YEAR: "Int64", C.VALUE: "Int64", C.SOURCE_ROW: "Int64"})


T1 = dt.datetime(2024, 1, 1)
T2 = dt.datetime(2025, 1, 1)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    W.create_schema(connection)
    return connection


def load(con, frame: pd.DataFrame, submission_id: int, at: dt.datetime) -> None:
    W.record_submissions(
        con,
        [
            {
                "submission_id": submission_id,
                "sha256": f"h{submission_id}",
                "original_name": f"s{submission_id}.csv",
                "raw_path": "raw",
                "country": "AAA",
                "layout": "template",
                "received_at": at,
                "status": "accepted",
                "n_rows": len(frame),
                "n_cells": len(frame),
                "n_errors": 0,
                "n_warnings": 0,
            }
        ],
    )
    W.load_observations(con, frame, submission_id, at)
    W.mark_superseded(con)


def test_schema_is_idempotent(con) -> None:
    W.create_schema(con)
    W.create_schema(con)
    assert con.execute("select count(*) from schema_version").fetchone()[0] == 1
    names = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assert {"submissions", "observations", "current_observations", "ref_versions"} <= names


def test_newer_submission_supersedes_the_cells_it_covers(con) -> None:
    load(con, obs([("AAA", 2022, "_T", "_T", 10), ("AAA", 2022, "F", "_T", 6)]), 1, T1)
    load(con, obs([("AAA", 2022, "_T", "_T", 12)]), 2, T2)

    current = con.execute(
        "select sex, value, submission_id from current_observations order by sex"
    ).fetchall()
    assert current == [("F", 6, 1), ("_T", 12, 2)]
    # Nothing is deleted: the old total is still there, closed when submission 2 arrived.
    closed = con.execute("select value, valid_to from observations where valid_to is not null")
    assert closed.fetchall() == [(10, T2)]
    assert con.execute("select count(*) from observations").fetchone()[0] == 3
    # Submission 1 still has a current cell: it is not wholly superseded.
    assert con.execute("select status from submissions order by 1").fetchall() == [
        ("accepted",),
        ("accepted",),
    ]


def test_wholly_superseded_submission_gets_that_status(con) -> None:
    load(con, obs([("AAA", 2022, "_T", "_T", 10)]), 1, T1)
    load(con, obs([("AAA", 2022, "_T", "_T", 11), ("AAA", 2022, "M", "_T", 5)]), 2, T2)
    statuses = con.execute("select submission_id, status from submissions order by 1").fetchall()
    assert statuses == [(1, "superseded"), (2, "accepted")]


def test_other_years_and_countries_are_not_touched(con) -> None:
    load(con, obs([("AAA", 2021, "_T", "_T", 7), ("BBB", 2022, "_T", "_T", 3)]), 1, T1)
    load(con, obs([("AAA", 2022, "_T", "_T", 9)]), 2, T2)
    assert con.execute("select count(*) from current_observations").fetchone()[0] == 3


def test_as_of_shows_what_was_known_on_a_date(con) -> None:
    load(con, obs([("AAA", 2022, "_T", "_T", 10)]), 1, T1)
    load(con, obs([("AAA", 2022, "_T", "_T", 12)]), 2, T2)

    def value_at(when: str) -> list:
        return con.execute("select value from as_of(?)", [when]).fetchall()

    assert value_at("2023-06-01") == []
    assert value_at("2024-06-01") == [(10,)]
    assert value_at("2025-01-01") == [(12,)]  # valid_to is exclusive, valid_from inclusive
    assert value_at("2026-01-01") == [(12,)]


def test_a_repeated_cell_is_refused(con) -> None:
    twice = obs([("AAA", 2022, "_T", "_T", 1), ("AAA", 2022, "_T", "_T", 2)])
    with pytest.raises(TipstatsError, match="same cell twice"):
        W.load_observations(con, twice, 1, T1)
    assert con.execute("select count(*) from observations").fetchone()[0] == 0


# --------------------------------------------------------------------------- submit, end to end


def write_csv(folder: Path, name: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


GOOD_2022 = [
    "CAN,2022,VICTIMS_DETECTED,_T,_T,_T,_T,100,A,POLICE,",
    "CAN,2022,VICTIMS_DETECTED,F,_T,_T,_T,60,A,POLICE,",
    "CAN,2022,VICTIMS_DETECTED,M,_T,_T,_T,40,A,POLICE,",
]
REVISED_2022 = [
    "CAN,2022,VICTIMS_DETECTED,_T,_T,_T,_T,110,A,POLICE,",
    "CAN,2022,VICTIMS_DETECTED,F,_T,_T,_T,60,A,POLICE,",
    "CAN,2022,VICTIMS_DETECTED,M,_T,_T,_T,50,A,POLICE,",
    "CAN,2022,VICTIMS_DETECTED,_T,Y0T17,_T,_T,20,A,POLICE,",
]


def snapshot(home: Home) -> dict[str, list]:
    with duckdb.connect(str(home.database), read_only=True) as con:
        return {
            table: con.execute(f"select * from {table} order by all").fetchall()
            for table in ("observations", "submissions", "ref_versions")
        }


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def test_submit_accepts_keeps_raw_and_records(home: Home, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "CAN_2022.csv", GOOD_2022)
    result = W.submit(path, home, now=T1)
    assert result.status == "accepted" and result.submission_id == 1
    assert result.country == "CAN" and result.n_cells == 3
    assert result.raw_path == home.raw / f"{W.sha256_of(path)}.csv"
    assert result.raw_path.read_bytes() == path.read_bytes()
    assert result.report_path is not None and result.report_path.exists()
    row = W.query(home, "select sha256, original_name, layout, status from submissions")
    assert row.iloc[0].tolist() == [W.sha256_of(path), "CAN_2022.csv", "template", "accepted"]
    refs = W.query(home, "select count(*) as n from ref_countries")
    assert refs["n"][0] > 190


def test_same_file_twice_changes_nothing(home: Home, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "CAN_2022.csv", GOOD_2022)
    W.submit(path, home, now=T1)
    before = snapshot(home)
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(path.read_bytes())
    again = W.submit(copy, home, now=T2)
    assert again.status == "duplicate" and again.submission_id == 1
    assert again.message == "already received as submission 1 (accepted)"
    assert snapshot(home) == before


def test_rejected_file_leaves_observations_untouched(home: Home, tmp_path: Path) -> None:
    W.submit(write_csv(tmp_path, "CAN_2022.csv", GOOD_2022), home, now=T1)
    before = snapshot(home)
    bad = write_csv(tmp_path, "bad.csv", ["CAN,2022,VICTIMS_DETECTED,_T,_T,_T,_T,-5,A,POLICE,"])
    result = W.submit(bad, home, now=T2)
    assert result.status == "rejected" and result.n_errors >= 1
    after = snapshot(home)
    assert after["observations"] == before["observations"]
    assert after["ref_versions"] == before["ref_versions"]
    # The only change: one more row in the submissions log, saying rejected.
    added = [r for r in after["submissions"] if r not in before["submissions"]]
    assert len(added) == 1 and "rejected" in added[0]
    assert (home.raw / f"{W.sha256_of(bad)}.csv").exists()


def test_unreadable_file_is_logged_as_rejected(home: Home, tmp_path: Path) -> None:
    weird = tmp_path / "notes.pdf"
    weird.write_bytes(b"%PDF-1.4 not a submission")
    result = W.submit(weird, home, now=T1)
    assert result.status == "rejected" and result.exit_code in (1, 2) and result.message
    assert (home.raw / f"{W.sha256_of(weird)}.pdf").exists()
    log = W.query(home, "select status, message from submissions")
    assert log["status"].tolist() == ["rejected"] and log["message"][0]


def test_resubmission_supersedes_and_history_tells_what_changed(home: Home, tmp_path: Path) -> None:
    W.submit(write_csv(tmp_path, "a.csv", GOOD_2022), home, now=T1)
    W.submit(write_csv(tmp_path, "b.csv", REVISED_2022), home, now=T2)
    current = W.query(home, "select sex, age, value from current_observations order by sex, age")
    assert sorted(current.values.tolist()) == sorted(
        [["F", "_T", 60], ["M", "_T", 50], ["_T", "Y0T17", 20], ["_T", "_T", 110]]
    )
    then = W.as_of(home, "2024-06-01")
    assert sorted(then["value"].tolist()) == [40, 60, 100]

    story = W.history(home, "can").set_index("submission_id")
    assert story.loc[1, ["added", "revised", "unchanged", "superseded_later"]].tolist() == [
        3,
        0,
        0,
        3,
    ]
    assert story.loc[2, ["added", "revised", "unchanged", "superseded_later"]].tolist() == [
        1,
        2,
        1,
        0,
    ]
    assert story.loc[1, "status"] == "superseded"


def test_validation_sees_the_history(home: Home, tmp_path: Path, monkeypatch) -> None:
    W.submit(write_csv(tmp_path, "a.csv", GOOD_2022), home, now=T1)
    seen: list[pd.DataFrame] = []
    import tipstats.validation as validation

    real = validation.validate

    def spy(parsed, codelists, history=None, **kwargs):
        seen.append(history)
        return real(parsed, codelists, history, **kwargs)

    monkeypatch.setattr(validation, "validate", spy)
    W.submit(write_csv(tmp_path, "b.csv", REVISED_2022), home, now=T2)
    assert len(seen) == 1 and sorted(seen[0]["value"].tolist()) == [40, 60, 100]
    assert list(seen[0].columns) == list(C.OBSERVATION_COLUMNS)


def test_query_refuses_writes_and_leaves_the_database_unchanged(home: Home, tmp_path: Path) -> None:
    W.submit(write_csv(tmp_path, "a.csv", GOOD_2022), home, now=T1)
    before = snapshot(home)
    for sql in (
        "delete from observations",
        "update observations set value = 0",
        "drop table submissions",
        "create table x as select 1",
        "select 1; delete from observations",
        "attach 'other.duckdb' as other",
    ):
        with pytest.raises(TipstatsError, match="read-only"):
            W.query(home, sql)
    assert snapshot(home) == before


def test_query_errors_are_one_line(home: Home, tmp_path: Path) -> None:
    W.submit(write_csv(tmp_path, "a.csv", GOOD_2022), home, now=T1)
    with pytest.raises(TipstatsError, match="query failed"):
        W.query(home, "select nope from observations")
    with pytest.raises(TipstatsError, match="no warehouse"):
        W.query(Home(tmp_path / "empty"), "select 1")


def test_export_parquet_is_hive_partitioned_and_readable(home: Home, tmp_path: Path) -> None:
    W.submit(write_csv(tmp_path, "a.csv", GOOD_2022), home, now=T1)
    rows_2021 = [r.replace("2022", "2021") for r in GOOD_2022]
    W.submit(write_csv(tmp_path, "c.csv", rows_2021), home, now=T2)
    W.submit(write_csv(tmp_path, "b.csv", REVISED_2022), home)
    out = W.export_parquet(home, tmp_path / "pq")
    assert sorted(p.name for p in out.iterdir()) == ["year=2021", "year=2022"]
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table().to_pandas()
    assert len(table) == 7  # 3 for 2021, 4 current for 2022 (superseded rows are not exported)
    assert sorted(table.loc[table["year"] == 2022, "value"].tolist()) == [20, 50, 60, 110]
    # A second export replaces the first cleanly.
    again = W.export_parquet(home, tmp_path / "pq")
    assert len(ds.dataset(again, partitioning="hive").to_table()) == 7


def test_read_tables_gives_none_for_a_missing_table(home: Home, tmp_path: Path) -> None:
    W.submit(write_csv(tmp_path, "a.csv", GOOD_2022), home, now=T1)
    tables = W.read_tables(home, ["current_observations", "no_such_mart"])
    assert len(tables["current_observations"]) == 3 and tables["no_such_mart"] is None


def test_lock_waits_then_times_out_with_a_clear_message(home: Home) -> None:
    messages: list[str] = []
    # flock locks belong to the open file description: a second open in the same process
    # conflicts just as another process would.
    with (
        W.warehouse_lock(home),
        pytest.raises(TipstatsError, match="warehouse busy"),
        W.warehouse_lock(home, timeout=0.5, on_wait=messages.append),
    ):
        pass
    assert messages and "waiting for submission by pid" in messages[0]


def test_readers_share_the_lock_and_a_released_lock_names_nobody(home: Home) -> None:
    with (
        W.warehouse_lock(home, exclusive=False),
        W.warehouse_lock(home, exclusive=False, timeout=0),
    ):
        pass  # two readers at once: no wait
    with W.warehouse_lock(home):
        assert (home.warehouse / W.LOCK_NAME).read_text() == str(os.getpid())
    assert (home.warehouse / W.LOCK_NAME).read_text() == ""
    messages: list[str] = []
    with (
        W.warehouse_lock(home, exclusive=False),
        pytest.raises(TipstatsError, match="gave up"),
        W.warehouse_lock(home, timeout=0.3, on_wait=messages.append),
    ):
        pass
    assert messages == ["warehouse busy, waiting for a reader to finish…"]
