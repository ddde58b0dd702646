"""submit_many: one lock and connection for many files, the same outcome as submit one by one;
and the raw copies a killed submit leaves half-written are cleaned up."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
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
    files = [
        country_year(tmp_path, "USA", 2020, 70),
        country_year(tmp_path, "CAN", 2020, 100),
        country_year(tmp_path, "MEX", 2020, 50),
    ]
    real = W.load_batch
    calls: list[int] = []

    def failing(con, loads):
        calls.append(len(loads))
        if any((observations["country"] == "CAN").any() for observations, _, _ in loads):
            raise duckdb.ConversionException("simulated failure while loading")
        return real(con, loads)

    monkeypatch.setattr(W, "load_batch", failing)
    results = W.submit_many(files, home, workers=1)
    assert calls == [3, 1, 1, 0, 1]  # the batch fails, then one transaction per file
    assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
    assert "could not be loaded (simulated failure while loading)" in results[1].message
    log = W.query(home, "select submission_id, status, n_cells from submissions order by 1")
    assert log.values.tolist() == [[1, "accepted", 3], [2, "rejected", 0], [3, "accepted", 3]]
    loaded = W.query(home, "select distinct country from observations order by 1")
    assert loaded["country"].tolist() == ["MEX", "USA"]


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


# --------------------------------------------------------------------------- batched storage


def generated_batch(folder: Path) -> list[Path]:
    """Generated national files (3 countries x 3 years) in an order that interleaves them, with
    resubmissions of a country-year inside the batch (two whole, one partial), the same content
    twice (the second copy after its original was wholly superseded), a rejected file and an
    unreadable one."""
    from tipstats.sample_files import generate_sample_files

    made = generate_sample_files(folder / "gen", ["CAN", "MEX", "PER"], [2019, 2020, 2021], 1)
    by_name = {p.stem: p for p in made.paths}
    lines = by_name["CAN_2020"].read_text(encoding="utf-8").splitlines(keepends=True)
    whole = folder / "CAN_2020_revised.csv"  # the same cells again, with a comment: new content
    whole.write_text(lines[0] + "".join(f"{line.rstrip()}revised\n" for line in lines[1:]))
    lines = by_name["PER_2020"].read_text(encoding="utf-8").splitlines(keepends=True)
    again = folder / "PER_2020_revised.csv"  # the same, in the same transaction as its original
    again.write_text(lines[0] + "".join(f"{line.rstrip()}again\n" for line in lines[1:]))
    partial = folder / "MEX_2019_part.csv"  # the first rows only: supersedes some cells
    partial.write_text(
        "".join(by_name["MEX_2019"].read_text(encoding="utf-8").splitlines(True)[:6])
    )
    copy = folder / "CAN_2020_copy.csv"
    copy.write_bytes(by_name["CAN_2020"].read_bytes())
    unreadable = folder / "scan.pdf"
    unreadable.write_bytes(b"%PDF-1.4 not a submission")
    rejected = bad_file(folder)
    order = [
        by_name["CAN_2019"],
        by_name["MEX_2019"],
        by_name["CAN_2020"],
        rejected,
        by_name["PER_2019"],
        copy,  # a duplicate of CAN_2020 while it is still current
        whole,
        by_name["MEX_2020"],
        unreadable,
        partial,
        by_name["CAN_2021"],
        copy,  # the same content, now superseded
        by_name["PER_2020"],
        by_name["MEX_2021"],
        again,
        by_name["PER_2021"],
        by_name["CAN_2019"],  # already stored in this batch
    ]
    return order


def stored_state(home: Home) -> dict[str, list]:
    """Every column of ``submissions`` and ``observations``; timestamps replaced by their rank
    among the submissions' ``received_at`` (what matters is their order), paths made relative."""
    with duckdb.connect(str(home.database), read_only=True) as con:
        stamps = [r[0] for r in con.execute("select received_at from submissions").fetchall()]
        rank = {stamp: n for n, stamp in enumerate(sorted(set(stamps)))}
        assert len(rank) == len(stamps)  # strictly increasing: no two submissions share one
        root = str(home.root)

        def plain(row: tuple) -> tuple:
            return tuple(
                ("t", rank[v])
                if isinstance(v, dt.datetime)
                else v.replace(root, "HOME")
                if isinstance(v, str)
                else v
                for v in row
            )

        tables = {}
        for table in ("submissions", "observations"):
            rows = con.execute(f"select * from {table}").fetchall()
            tables[table] = sorted((plain(r) for r in rows), key=repr)
    return tables


def described(results: list[W.SubmissionResult], home: Home) -> list[tuple]:
    root = str(home.root)
    return [
        (
            r.original_name,
            r.status,
            r.submission_id,
            r.sha256,
            r.country,
            r.layout,
            r.n_rows,
            r.n_cells,
            r.n_errors,
            r.n_warnings,
            r.message,
            r.duplicate_of_status,
            r.exit_code,
            r.accepted,
            str(r.report_path).replace(root, "HOME") if r.report_path else None,
            str(r.raw_path).replace(root, "HOME"),
            None if r.report is None else r.report.table.to_csv(index=False),
        )
        for r in results
    ]


@pytest.fixture(scope="module")
def generated_one_by_one(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Home, list[W.SubmissionResult]]:
    root = tmp_path_factory.mktemp("generated_one_by_one")
    home = Home(root / "home")
    return home, [W.submit(p, home) for p in generated_batch(root / "in")]


@pytest.mark.parametrize(
    ("workers", "max_files"),
    [(1, W.BATCH_MAX_FILES), (1, 2), (2, 3)],
    ids=["one-batch", "batches-of-2", "pool-batches-of-3"],
)
def test_batched_storage_gives_what_submit_gives_one_by_one(
    tmp_path: Path, generated_one_by_one, workers: int, max_files: int, monkeypatch
) -> None:
    expected_home, expected = generated_one_by_one
    monkeypatch.setattr(W, "POOL_MIN_FILES_PER_WORKER", 1)
    monkeypatch.setattr(W, "BATCH_MAX_FILES", max_files)
    transactions: list[int] = []
    real = W._write

    def counted(con, loader, batch):
        transactions.append(len(batch))
        return real(con, loader, batch)

    monkeypatch.setattr(W, "_write", counted)
    home = Home(tmp_path / "home")
    given: list[W.SubmissionResult] = []
    results = W.submit_many(
        generated_batch(tmp_path / "in"), home, workers=workers, on_result=given.append
    )

    assert described(results, home) == described(expected, expected_home)
    assert given == results
    assert stored_state(home) == stored_state(expected_home)
    # what the batch is about: the files are stored in a few transactions, not one each; a
    # duplicate whose original a pending file may supersede (both copies of CAN_2020) first
    # stores the pending files, to answer with the status the original has by then
    n_stored = len({r.submission_id for r in results if r.status != "duplicate"})
    assert sum(transactions) == n_stored
    if max_files >= n_stored:
        assert transactions == [5, 5, 4]
    else:
        assert max(transactions) <= max_files and len(transactions) < n_stored
    # and the cases it must get right are there
    statuses = [r.status for r in results]
    assert statuses.count("duplicate") == 3 and statuses.count("rejected") == 2
    assert [r.duplicate_of_status for r in results if r.status == "duplicate"] == [
        "accepted",
        "superseded",
        "accepted",
    ]
    log = W.query(home, "select status, count(*) as n from submissions group by 1 order by 1")
    assert dict(log.values.tolist()) == {"accepted": 10, "rejected": 2, "superseded": 2}


def _one_cell_twice_for_mex(report):
    if report.observations is not None and "MEX" in set(report.observations["country"]):
        doubled = pd.concat([report.observations, report.observations.iloc[:1]])
        return replace(report, observations=doubled)
    return report


def test_a_batch_with_a_repeated_cell_rejects_that_file_only(tmp_path: Path, monkeypatch) -> None:
    from tipstats import validation_batch

    real = validation_batch.validate_batch

    def doubling(parsed_files, codelists, history=None, **options):  # a harmonizer bug
        outcomes = real(parsed_files, codelists, history, **options)
        return [_one_cell_twice_for_mex(outcome) for outcome in outcomes]

    monkeypatch.setattr(validation_batch, "validate_batch", doubling)
    files = [
        country_year(tmp_path, "CAN", 2020, 100),
        country_year(tmp_path, "MEX", 2020, 50),
        country_year(tmp_path, "PER", 2020, 80),
    ]
    writes: list[int] = []
    real_write = W._write

    def counted(con, loader, batch):
        writes.append(len(batch))
        return real_write(con, loader, batch)

    monkeypatch.setattr(W, "_write", counted)
    home = Home(tmp_path / "home")
    results = W.submit_many(files, home, workers=1, now=T0)
    assert writes == [3, 3]  # the batch fails, then again without MEX's cells: not file by file
    assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
    loaded = W.query(home, "select distinct country from observations order by 1")
    assert loaded["country"].tolist() == ["CAN", "PER"]
    assert "could not be loaded (the harmonized submission holds the same cell twice" in (
        results[1].message
    )
    assert results[1].report is None and results[1].n_cells == 0


def test_known_files_among_new_ones_through_the_pool(tmp_path: Path, monkeypatch) -> None:
    """The workers read every file before the warehouse says which are new: the reading of
    known ones is dropped or ignored, the new ones are checked against what is loaded."""
    monkeypatch.setattr(W, "POOL_MIN_FILES_PER_WORKER", 1)
    monkeypatch.setattr(checking, "READ_CHUNK", 1)  # many tasks: some dropped before they start
    home = Home(tmp_path / "home")
    folder = tmp_path / "in"
    folder.mkdir()
    for year in range(2014, 2020):
        country_year(folder, "CAN", year, 100)
        country_year(folder, "MEX", year, 100)
    first = W.submit_many([folder], home, workers=2)
    assert [r.status for r in first] == ["accepted"] * 12
    again = W.submit_many([folder], home, workers=2)
    assert [r.status for r in again] == ["duplicate"] * 12
    assert [r.submission_id for r in again] == [r.submission_id for r in first]
    country_year(folder, "CAN", 2020, 100_000)  # a jump from 100: a warning only with history
    third = W.submit_many([folder], home, workers=2)
    assert [r.status for r in third] == ["duplicate"] * 6 + ["accepted"] + ["duplicate"] * 6
    assert third[6].submission_id == 13
    assert "plausibility.large_change" in third[6].report.table["rule_id"].tolist()
