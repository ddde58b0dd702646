"""submit_many: one lock and connection for many files, the same outcome as submit one by one;
and the raw copies a killed submit leaves half-written are cleaned up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tipstats import checking
from tipstats import warehouse as W
from tipstats.errors import UsageError
from tipstats.home import Home

HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment\n"
T0 = dt.datetime(2024, 1, 1)


def country_year(folder: Path, iso3: str, year: int, total: int) -> Path:
    females = total // 2
    path = folder / f"{iso3}_{year}.csv"
    path.write_text(
        HEADER
        + f"{iso3},{year},VICTIMS_DETECTED,_T,_T,_T,_T,{total},A,POLICE,\n"
        + f"{iso3},{year},VICTIMS_DETECTED,F,_T,_T,_T,{females},A,POLICE,\n"
        + f"{iso3},{year},VICTIMS_DETECTED,M,_T,_T,_T,{total - females},A,POLICE,\n",
        encoding="utf-8",
    )
    return path


def bad_file(folder: Path) -> Path:
    path = folder / "PER_2022.csv"
    path.write_text(HEADER + "PER,2022,VICTIMS_DETECTED,_T,_T,_T,_T,-5,A,POLICE,\n")
    return path


def batch(folder: Path) -> list[Path]:
    """Two chains (CAN, MEX) whose later years jump, so validation must see the earlier years;
    a rejected file, an unreadable one and the same content twice in between."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        country_year(folder, "CAN", 2020, 100),
        country_year(folder, "MEX", 2020, 50),
        bad_file(folder),
        country_year(folder, "CAN", 2021, 1000),  # +900 against 2020: a warning, if seen
        folder / "notes.pdf",
        country_year(folder, "MEX", 2021, 400),
        country_year(folder, "CAN", 2022, 1000),
    ]
    files[4].write_bytes(b"%PDF-1.4 not a submission")
    copy = folder / "CAN_2020_again.csv"
    copy.write_bytes(files[0].read_bytes())
    files.append(copy)
    return files


def outcome(results: list[W.SubmissionResult]) -> list[tuple]:
    return [
        (r.original_name, r.status, r.submission_id, r.n_cells, r.n_errors, r.n_warnings)
        for r in results
    ]


def tables(home: Home) -> dict[str, list]:
    with duckdb.connect(str(home.database), read_only=True) as con:
        return {
            "observations": con.execute(
                "select * exclude (valid_from, valid_to), valid_to is null from observations "
                "order by all"
            ).fetchall(),
            "submissions": con.execute(
                "select * exclude (received_at, raw_path, report_path) from submissions "
                "order by all"
            ).fetchall(),
        }


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, list[W.SubmissionResult]]:
    root = tmp_path_factory.mktemp("one_by_one")
    home = Home(root / "home")
    results = [W.submit(p, home) for p in batch(root / "in")]
    return home, results


@pytest.mark.parametrize("workers", [1, 2])
def test_submit_many_gives_what_submit_gives_one_by_one(
    tmp_path: Path, one_by_one, workers: int, monkeypatch
) -> None:
    expected_home, expected = one_by_one
    monkeypatch.setattr(W, "POOL_MIN_FILES_PER_WORKER", 1)  # use the pool for a small batch
    home = Home(tmp_path / "home")
    seen: list[str] = []
    results = W.submit_many(
        batch(tmp_path / "in"), home, workers=workers, on_result=lambda r: seen.append(r.status)
    )
    assert outcome(results) == outcome(expected)
    assert seen == [r.status for r in results]
    assert tables(home) == tables(expected_home)
    # the later years were validated against the earlier ones loaded in the same batch
    can_2021 = results[3]
    assert can_2021.status == "accepted" and can_2021.n_warnings >= 1
    assert "plausibility.large_change" in can_2021.report.table["rule_id"].tolist()
    assert [r.status for r in results[2:5]] == ["rejected", "accepted", "rejected"]
    assert results[4].message and results[4].report is None
    assert results[-1].status == "duplicate" and results[-1].submission_id == 1
    reports = sorted(p.name for p in home.reports.glob("*.csv"))
    assert reports == sorted(p.name for p in expected_home.reports.glob("*.csv"))


def test_submit_many_takes_folders_and_skips_known_files(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    folder = tmp_path / "in"
    folder.mkdir()
    country_year(folder, "CAN", 2020, 100)
    country_year(folder, "CAN", 2021, 110)
    (folder / ".hidden.csv").write_text("not a submission")
    first = W.submit_many([folder], home, workers=1)
    assert [r.original_name for r in first] == ["CAN_2020.csv", "CAN_2021.csv"]
    assert [r.status for r in first] == ["accepted", "accepted"]
    again = W.submit_many([folder], home, workers=1)
    assert [r.status for r in again] == ["duplicate", "duplicate"]
    assert [r.submission_id for r in again] == [1, 2]


def test_submit_many_refuses_a_missing_path_before_doing_anything(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    good = country_year(tmp_path, "CAN", 2020, 100)
    with pytest.raises(UsageError, match="no such file"):
        W.submit_many([good, tmp_path / "missing.csv"], home)
    assert not home.database.exists()


def test_a_file_that_cannot_be_loaded_is_rejected_and_the_others_load(
    tmp_path: Path, monkeypatch
) -> None:
    home = Home(tmp_path / "home")
    files = [country_year(tmp_path, "CAN", 2020, 100), country_year(tmp_path, "MEX", 2020, 50)]
    real = W.load_observations

    def failing(con, observations, submission_id, received_at):
        if (observations["country"] == "CAN").any():
            raise duckdb.ConversionException("simulated failure while loading")
        return real(con, observations, submission_id, received_at)

    monkeypatch.setattr(W, "load_observations", failing)
    results = W.submit_many(files, home, workers=1)
    assert [r.status for r in results] == ["rejected", "accepted"]
    assert "could not be loaded (simulated failure while loading)" in results[0].message
    log = W.query(home, "select submission_id, status, n_cells from submissions order by 1")
    assert log.values.tolist() == [[1, "rejected", 0], [2, "accepted", 3]]
    assert W.query(home, "select distinct country from observations")["country"].tolist() == ["MEX"]


def test_submit_cleans_the_half_copied_raw_files_of_a_killed_submit(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.ensure()
    # what a kill -9 during the copy leaves: a temporary file, never renamed
    orphans = [home.raw / ".0123abcd.x1y2.part", home.raw / "tmpq1w2e3.part"]
    for orphan in orphans:
        orphan.write_bytes(b"half a file")
    result = W.submit(country_year(tmp_path, "CAN", 2020, 100), home, now=T0)
    assert result.status == "accepted"
    assert sorted(p.name for p in home.raw.iterdir()) == [result.raw_path.name]
    orphans[0].write_bytes(b"half a file")
    W.submit_many([country_year(tmp_path, "MEX", 2020, 50)], home)
    assert not list(home.raw.glob("*.part")) and not list(home.raw.glob(".*.part"))


def test_chains_link_the_files_that_share_a_country() -> None:
    countries = [["CAN"], ["MEX"], [], ["CAN", "USA"], ["USA"], ["PER"], ["MEX"]]
    assert sorted(checking.chains(countries)) == [[0, 3, 4], [1, 6], [2], [5]]


def test_after_load_replaces_the_cells_it_covers() -> None:
    def cells(rows: list[tuple[str, int]]) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "country": "CAN",
                "year": 2020,
                "indicator": "VICTIMS_DETECTED",
                "sex": [r[0] for r in rows],
                "age": "_T",
                "exploitation": "_T",
                "citizenship": "_T",
                "value": [r[1] for r in rows],
                "status": "A",
                "comment": None,
                "source": "POLICE",
                "source_row": range(2, 2 + len(rows)),
            }
        )
        return checking.canonical_types(frame)

    history = cells([("_T", 100), ("F", 60)])
    after = checking.after_load(history, cells([("F", 70), ("M", 30)]))
    assert sorted(zip(after["sex"], after["value"], strict=True)) == [
        ("F", 70),
        ("M", 30),
        ("_T", 100),
    ]
    assert str(after["value"].dtype) == "Int64"
