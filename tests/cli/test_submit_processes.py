"""`tipstats submit` as real processes: kill -9 mid-load, and concurrent submits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tipstats import warehouse as W

HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment\n"
# The installed console script, next to the interpreter running the tests.
TIPSTATS = Path(sys.executable).parent / "tipstats"
COUNTRIES = ("CAN", "MEX", "PER", "ECU", "GRC", "ROU", "IND", "IDN")


def country_file(folder: Path, iso3: str, total: int = 100) -> Path:
    path = folder / f"{iso3}_2022.csv"
    path.write_text(
        HEADER
        + f"{iso3},2022,VICTIMS_DETECTED,_T,_T,_T,_T,{total},A,POLICE,\n"
        + f"{iso3},2022,VICTIMS_DETECTED,F,_T,_T,_T,{total - 30},A,POLICE,\n"
        + f"{iso3},2022,VICTIMS_DETECTED,M,_T,_T,_T,30,A,POLICE,\n",
        encoding="utf-8",
    )
    return path


def tipstats(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [str(TIPSTATS), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def counts(database: Path) -> tuple[int, int]:
    with duckdb.connect(str(database), read_only=True) as con:
        return (
            con.execute("select count(*) from submissions").fetchone()[0],
            con.execute("select count(*) from observations").fetchone()[0],
        )


@pytest.mark.slow
def test_kill_9_in_the_middle_of_a_load_leaves_all_or_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = tipstats("submit", str(country_file(tmp_path, "CAN")), "--home", str(home))
    assert first.wait(60) == 0, first.stderr.read()
    database = home / "warehouse" / "tipstats.duckdb"
    before = counts(database)

    flag = tmp_path / "inside-transaction"
    revised = country_file(tmp_path, "CAN", total=120)
    victim = tipstats(
        "submit", str(revised), "--home", str(home), env={W.PAUSE_HOOK_ENV: str(flag)}
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert victim.poll() is None, victim.stderr.read()
        assert time.monotonic() < deadline, "the load never reached its transaction"
        time.sleep(0.05)
    # Inside the transaction: the old rows are closed and the new ones inserted, not committed.
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    assert victim.returncode == -signal.SIGKILL

    assert counts(database) == before  # none of it
    with duckdb.connect(str(database), read_only=True) as con:
        current = con.execute("select count(*) from current_observations").fetchone()[0]
    assert current == 3

    rerun = tipstats("submit", str(revised), "--home", str(home))
    assert rerun.wait(60) == 0, rerun.stderr.read()
    assert "cells loaded" in rerun.stdout.read()
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from observations").fetchone()[0] == 6
        totals = con.execute(
            "select value from current_observations where sex = '_T' and age = '_T'"
        ).fetchall()
    assert totals == [(120,)]


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 8])
def test_concurrent_submits_for_different_countries_all_land(tmp_path: Path, n: int) -> None:
    home = tmp_path / "home"
    files = [country_file(tmp_path, iso3) for iso3 in COUNTRIES[:n]]
    procs = [tipstats("submit", str(f), "--home", str(home)) for f in files]
    outputs = [(p.wait(180), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _, _ in outputs), outputs
    database = home / "warehouse" / "tipstats.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        ids = [
            r[0] for r in con.execute("select submission_id from submissions order by 1").fetchall()
        ]
        countries = con.execute("select distinct country from current_observations").fetchall()
        cells = con.execute("select count(*) from current_observations").fetchone()[0]
    assert ids == list(range(1, n + 1))
    assert sorted(c[0] for c in countries) == sorted(COUNTRIES[:n])
    assert cells == 3 * n


@pytest.mark.slow
def test_a_waiting_submit_says_who_it_waits_for(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flag = tmp_path / "inside-transaction"
    holder = tipstats(
        "submit",
        str(country_file(tmp_path, "CAN")),
        "--home",
        str(home),
        env={W.PAUSE_HOOK_ENV: str(flag)},
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert holder.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    said = tmp_path / "waiter.err"
    with said.open("w") as err:  # a file, not a pipe: read while the waiter runs
        waiter = subprocess.Popen(
            [str(TIPSTATS), "submit", str(country_file(tmp_path, "MEX")), "--home", str(home)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    message = f"warehouse busy, waiting for submission by pid {holder.pid}"
    deadline = time.monotonic() + 60  # start-up alone takes seconds on a busy machine
    while message not in said.read_text():
        assert waiter.poll() is None, said.read_text()  # still waiting, never gave up
        assert time.monotonic() < deadline, "the waiter never said it waits"
        time.sleep(0.1)
    os.kill(holder.pid, signal.SIGKILL)  # the lock dies with its holder
    holder.wait(10)
    assert waiter.wait(60) == 0, said.read_text()


@pytest.mark.slow
def test_kill_9_during_a_batch_keeps_the_files_before_and_a_rerun_completes(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    first = country_file(tmp_path, "CAN")
    assert tipstats("submit", str(first), "--home", str(home)).wait(60) == 0
    database = home / "warehouse" / "tipstats.duckdb"
    before = counts(database)
    batch = [first, country_file(tmp_path, "MEX"), country_file(tmp_path, "PER")]
    flag = tmp_path / "inside-transaction"
    victim = tipstats(
        "submit", *map(str, batch), "--home", str(home), env={W.PAUSE_HOOK_ENV: str(flag)}
    )
    deadline = time.monotonic() + 60
    while not flag.exists():  # CAN is a duplicate: the pause is inside MEX's transaction
        assert victim.poll() is None, victim.stderr.read()
        assert time.monotonic() < deadline, "the load never reached its transaction"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    (home / "raw" / ".orphan.part").write_bytes(b"half")  # as if killed while copying
    assert counts(database) == before

    rerun = tipstats("submit", *map(str, batch), "--home", str(home))
    assert rerun.wait(120) == 0, rerun.stderr.read()
    assert rerun.stdout.read().splitlines()[-1] == (
        "3 files: 2 accepted, 0 rejected, 1 already received"
    )
    with duckdb.connect(str(database), read_only=True) as con:
        countries = con.execute("select distinct country from current_observations").fetchall()
    assert sorted(c[0] for c in countries) == ["CAN", "MEX", "PER"]
    assert not list((home / "raw").glob("*.part")) and not list((home / "raw").glob(".*.part"))


def whole_or_absent(database: Path) -> tuple[int, int]:
    """Every submission in the log has all its cells and only its cells; no cell lacks its
    submission. Returns (submissions, observations)."""
    with duckdb.connect(str(database)) as con:  # read-write: replays what a kill left in the WAL
        partial = con.execute(
            "select s.submission_id, s.status, s.n_cells, count(o.submission_id) as found "
            "from submissions s left join observations o using (submission_id) "
            "group by all having found <> case when s.status = 'rejected' then 0 "
            "else s.n_cells end"
        ).fetchall()
        orphans = con.execute(
            "select count(*) from observations o anti join submissions s using (submission_id)"
        ).fetchone()[0]
        sizes = (
            con.execute("select count(*) from submissions").fetchone()[0],
            con.execute("select count(*) from observations").fetchone()[0],
        )
    assert partial == [] and orphans == 0, (partial, orphans)
    return sizes


@pytest.mark.slow
def test_kill_9_at_random_moments_of_a_folder_submit_leaves_whole_submissions(
    tmp_path: Path,
) -> None:
    import random

    home = tmp_path / "home"
    folder = tmp_path / "in"
    folder.mkdir()
    made = 0

    def add_files(count: int) -> None:  # new content each time: resubmissions of the countries
        nonlocal made
        for _ in range(count):
            iso3 = COUNTRIES[made % len(COUNTRIES)]
            path = country_file(folder, iso3, total=100 + made)
            path.rename(folder / f"{made:02d}_{path.name}")
            made += 1

    add_files(8)
    # how long a whole run takes here, so that kills fall anywhere in it, storing included
    start = time.monotonic()
    calibration = tipstats("submit", str(folder), "--workers", "1", "--home", str(tmp_path / "c"))
    assert calibration.wait(180) == 0, calibration.stderr.read()
    duration = time.monotonic() - start

    database = home / "warehouse" / "tipstats.duckdb"
    draw = random.Random(8)
    killed = 0
    for _ in range(6):
        add_files(2)
        victim = tipstats("submit", str(folder), "--workers", "1", "--home", str(home))
        time.sleep(draw.uniform(0.2, 1.2 * duration))
        if victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            killed += 1
        victim.wait(60)
        if database.exists():
            whole_or_absent(database)
    assert killed >= 2  # most trials were cut short somewhere

    rerun = tipstats("submit", str(folder), "--workers", "1", "--home", str(home))
    assert rerun.wait(180) == 0, rerun.stderr.read()
    assert whole_or_absent(database) == (made, 3 * made)
    with duckdb.connect(str(database), read_only=True) as con:
        current = con.execute(
            "select country, value from current_observations where sex = '_T' order by 1"
        ).fetchall()
    # each country's last file is its current one, whatever the kills interrupted
    last = {COUNTRIES[n % len(COUNTRIES)]: 100 + n for n in range(made)}
    assert current == sorted(last.items())
