"""IO: the warehouse. The only module that opens DuckDB or writes Parquet.

One DuckDB file (``Home.database``) holds every submission ever received (``submissions``), every
cell ever loaded with its vintage (``observations``: ``valid_from``/``valid_to``, rows are closed,
never deleted) and the reference data with its version (``ref_*``). ``docs/warehouse.md`` is the
reader's guide.

Writes: DuckDB allows one writer process, so every write holds an exclusive ``fcntl`` lock on
``warehouse/.lock``; readers hold a shared lock for as long as their read-only connection is open.
A submission loads in one transaction: a kill at any moment leaves all of it or none of it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from tipstats import columns as C
from tipstats.errors import TipstatsError, UsageError
from tipstats.home import Home

if TYPE_CHECKING:  # the validation stack loads only when a file is submitted
    from tipstats.checking import Checked, Job

SCHEMA_VERSION = 1
LOCK_NAME = ".lock"
DEFAULT_LOCK_TIMEOUT_S = 600.0
LOCK_POLL_S = 0.2
# Test hook (read when a load runs, never at import): a file to create once the load
# transaction is open, then sleep; lets a test kill ``tipstats submit`` in the middle of a load.
PAUSE_HOOK_ENV = "TIPSTATS_TEST_PAUSE_IN_LOAD"
PAUSE_SECONDS = 60.0

ACCEPTED, REJECTED, SUPERSEDED, DUPLICATE = "accepted", "rejected", "superseded", "duplicate"

# Statement types a report author may run through ``tipstats query``.
READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "RELATION"})

_DDL = [
    """create table if not exists schema_version (
        version integer not null, applied_at timestamp not null)""",
    """create table if not exists submissions (
        submission_id integer primary key,
        sha256 varchar not null unique,
        original_name varchar not null,
        raw_path varchar not null,
        country varchar,
        layout varchar,
        received_at timestamp not null,
        status varchar not null check (status in ('accepted', 'rejected', 'superseded')),
        n_rows integer not null,
        n_cells integer not null,
        n_errors integer not null,
        n_warnings integer not null,
        report_path varchar,
        message varchar)""",
    """create table if not exists observations (
        country varchar not null,
        year integer not null,
        indicator varchar not null,
        sex varchar not null,
        age varchar not null,
        exploitation varchar not null,
        citizenship varchar not null,
        source varchar not null,
        value bigint,
        status varchar,
        comment varchar,
        submission_id integer not null,
        source_row integer,
        valid_from timestamp not null,
        valid_to timestamp)""",
    "create or replace view current_observations as "
    "select * from observations where valid_to is null",
    # What was known at ``ts``: the rows loaded by then and not yet closed by then.
    "create or replace macro as_of(ts) as table select * from observations "
    "where valid_from <= cast(ts as timestamp) "
    "and (valid_to is null or valid_to > cast(ts as timestamp))",
    """create table if not exists ref_versions (
        name varchar primary key, version varchar not null, sha256 varchar not null)""",
    # MSE estimates of the total number of victims (#9, ``record_estimate``): modelled figures,
    # kept apart from the counts the countries reported, with vintages like ``observations``
    """create table if not exists estimates (
        country varchar not null, year integer not null, indicator varchar not null,
        value double not null, status varchar not null, ci_low double, ci_high double,
        ci_level double, observed bigint not null, method varchar not null,
        model varchar not null, lists varchar not null, threshold double, seed integer,
        n_resamples integer, source_file varchar, valid_from timestamp not null,
        valid_to timestamp)""",
    "create or replace view current_estimates as select * from estimates where valid_to is null",
]

OBSERVATION_TABLE_COLUMNS = (
    *C.OBSERVATION_KEY,
    C.VALUE,
    C.STATUS,
    C.COMMENT,
    "submission_id",
    C.SOURCE_ROW,
    "valid_from",
    "valid_to",
)


@dataclass(frozen=True)
class SubmissionResult:
    """What ``submit`` did with one file."""

    status: str  # accepted | rejected | duplicate
    submission_id: int
    sha256: str
    original_name: str
    raw_path: Path
    country: str | None = None
    layout: str | None = None
    n_rows: int = 0
    n_cells: int = 0
    n_errors: int = 0
    n_warnings: int = 0
    report_path: Path | None = None
    message: str = ""
    duplicate_of_status: str | None = None
    report: object | None = field(default=None, repr=False)  # ValidationReport, when validated
    report_html: Path | None = None
    exit_code: int | None = None  # set when the file could not be read at all (1, or 2: usage)

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED or (
            self.status == DUPLICATE and self.duplicate_of_status != REJECTED
        )


# --------------------------------------------------------------------------- locking


@contextlib.contextmanager
def warehouse_lock(
    home: Home,
    *,
    exclusive: bool = True,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold ``warehouse/.lock``: exclusive for writers, shared for readers.

    A waiting process is told once who holds the lock (the holder writes its pid into the file)
    and gives up with a clear error after ``timeout`` seconds.
    """
    home.warehouse.mkdir(parents=True, exist_ok=True)
    path = home.warehouse / LOCK_NAME
    limit = DEFAULT_LOCK_TIMEOUT_S if timeout is None else timeout
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with open(path, "a+") as handle:
        deadline = time.monotonic() + limit
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
                break
            except OSError as busy:
                if busy.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if not told and on_wait is not None:
                on_wait(_busy_message(path))
                told = True
            if time.monotonic() >= deadline:
                raise TipstatsError(
                    f"{_busy_message(path).rstrip('…')} for {limit:g} s; gave up. Try again later."
                )
            time.sleep(LOCK_POLL_S)
        try:
            if exclusive:
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
            yield
        finally:
            if exclusive:  # a stale pid would mislead the next process that waits
                handle.seek(0)
                handle.truncate()
                handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _busy_message(path: Path) -> str:
    holder = path.read_text(encoding="utf-8", errors="replace").strip() if path.exists() else ""
    who = f"submission by pid {holder}" if holder.isdigit() else "a reader to finish"
    return f"warehouse busy, waiting for {who}…"


# --------------------------------------------------------------------------- connections


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table, view and macro if missing (idempotent); record the schema version."""
    for statement in _DDL:
        con.execute(statement)
    found = con.execute("select max(version) from schema_version").fetchone()[0]
    if found is None:
        con.execute("insert into schema_version values (?, ?)", [SCHEMA_VERSION, _utcnow()])
    elif found > SCHEMA_VERSION:
        raise TipstatsError(
            f"the warehouse has schema version {found}, newer than this tipstats "
            f"({SCHEMA_VERSION}): upgrade tipstats"
        )


@contextlib.contextmanager
def write_connection(
    home: Home, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection under the exclusive lock, with the schema in place."""
    home.warehouse.mkdir(parents=True, exist_ok=True)
    with warehouse_lock(home, exclusive=True, timeout=timeout, on_wait=on_wait):
        con = _connect(home, read_only=False)
        try:
            create_schema(con)
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def read_connection(
    home: Home, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection (writes are refused by DuckDB itself) under a shared lock."""
    if not home.database.exists():
        raise TipstatsError(
            f"no warehouse at {home.database}: run `tipstats submit FILE` first", exit_code=2
        )
    with warehouse_lock(home, exclusive=False, timeout=timeout, on_wait=on_wait):
        con = _connect(home, read_only=True)
        try:
            yield con
        finally:
            con.close()


def _connect(home: Home, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(home.database), read_only=read_only)
    except duckdb.IOException as problem:
        # Another program opened the file without taking warehouse/.lock.
        raise TipstatsError(
            f"cannot open the warehouse {home.database}: {_first_line(problem)}"
        ) from None


# --------------------------------------------------------------------------- reference data


def load_reference(con: duckdb.DuckDBPyConnection, codelists: object) -> bool:
    """Replace the ``ref_*`` tables when the reference files changed; True when reloaded.

    Runs inside the caller's transaction, so the reference data and the observations loaded
    with it are committed together.
    """
    versions: pd.DataFrame = codelists.versions
    stored = con.execute("select name, sha256 from ref_versions order by name").df()
    wanted = versions[["name", "sha256"]].sort_values("name").reset_index(drop=True)
    if stored.reset_index(drop=True).equals(wanted):
        return False
    frames = {
        "ref_countries": codelists.countries,
        "ref_region_members": codelists.region_members,
        "ref_population": codelists.population,
        "ref_codes": codelists.code_table,
        "ref_code_map": codelists.code_map,
        "ref_rollups": codelists.rollups,
    }
    for name, frame in frames.items():
        con.register("_ref_frame", pd.DataFrame(frame))
        con.execute(f"create or replace table {name} as select * from _ref_frame")
        con.unregister("_ref_frame")
    con.execute("delete from ref_versions")
    con.register("_ref_versions", versions[["name", "version", "sha256"]])
    con.execute("insert into ref_versions select name, version, sha256 from _ref_versions")
    con.unregister("_ref_versions")
    return True


# --------------------------------------------------------------------------- loading


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


PART_SUFFIX = ".part"


def keep_raw(path: Path, home: Home, digest: str) -> Path:
    """Copy the file to ``raw/<sha256>.<ext>`` (atomically: a hidden ``.part`` file, then a rename).

    Call it under the exclusive lock: ``remove_orphan_parts`` relies on no other process copying.
    """
    home.raw.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower() or ".bin"
    target = home.raw / f"{digest}{suffix}"
    if not target.exists():
        # a fixed name is safe under the lock (no other process copies); the pid tells whose
        temporary = home.raw / f".{digest[:16]}.{os.getpid()}{PART_SUFFIX}"
        shutil.copyfile(path, temporary)
        os.replace(temporary, target)
    return target


def remove_orphan_parts(home: Home) -> list[Path]:
    """Delete the half-copied raw files a killed ``submit`` left behind; return them.

    Only a holder of the exclusive lock copies into ``raw/``, so under that lock every
    ``*.part`` there belongs to a process that died.
    """
    if not home.raw.is_dir():
        return []
    # one pass over the folder (it holds every file ever received), not a glob per pattern
    with os.scandir(home.raw) as entries:
        orphans = sorted(Path(e.path) for e in entries if e.name.endswith(PART_SUFFIX))
    for orphan in orphans:
        orphan.unlink(missing_ok=True)
    return orphans


def find_submission(con: duckdb.DuckDBPyConnection, digest: str) -> tuple[int, str] | None:
    row = con.execute(
        "select submission_id, status from submissions where sha256 = ?", [digest]
    ).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def current_for(con: duckdb.DuckDBPyConnection, countries: Sequence[str]) -> pd.DataFrame:
    """The current observations of ``countries`` in canonical columns (validation history)."""
    if not countries:
        return pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS))
    frame = con.execute(
        f"select {', '.join(C.OBSERVATION_COLUMNS)} from current_observations "
        "where list_contains(?, country)",
        [list(countries)],
    ).df()
    return canonical_types(frame)


def canonical_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Observation columns with the dtypes validation expects of a history."""
    typed = frame.copy()
    for column in typed.columns:
        if column in (C.YEAR, C.VALUE, C.SOURCE_ROW):
            typed[column] = typed[column].astype("Int64")
        else:
            typed[column] = typed[column].astype("string")
    return typed


def next_submission_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(
        con.execute("select coalesce(max(submission_id), 0) + 1 from submissions").fetchone()[0]
    )


def next_timestamp(con: duckdb.DuckDBPyConnection, now: dt.datetime | None) -> dt.datetime:
    """``now`` (UTC, naive), pushed past the last submission so vintages are strictly ordered."""
    stamp = (now or _utcnow()).replace(tzinfo=None)
    last = con.execute("select max(received_at) from submissions").fetchone()[0]
    if last is not None and stamp <= last:
        stamp = last + dt.timedelta(microseconds=1)
    return stamp


def load_observations(
    con: duckdb.DuckDBPyConnection,
    observations: pd.DataFrame,
    submission_id: int,
    received_at: dt.datetime,
) -> int:
    """Close the current rows that ``observations`` cover (same key) and insert the new ones.

    Runs inside the caller's transaction. Returns the number of rows inserted. Rows are never
    deleted: a superseded row keeps its values and gets ``valid_to``.
    """
    load_batch(con, [(observations, submission_id, received_at)])
    return len(observations)


# One submission's observations, its id and its vintage (the time it was received).
Load = tuple[pd.DataFrame, int, dt.datetime]


def load_batch(con: duckdb.DuckDBPyConnection, loads: Sequence[Load]) -> list[int]:
    """Load the observations of several submissions at once, with the outcome of loading them one
    after the other in the order of their ``received_at`` (strictly increasing).

    A cell that several of them give gets one row each: each row is closed (``valid_to``) by the
    next submission that gives the cell again; the current row of the cell in the warehouse is
    closed by the first. One update and one insert for all of them, whatever their number.
    Runs inside the caller's transaction. Returns the submissions left with no current cell
    (marked ``superseded``).
    """
    canonical = list(C.OBSERVATION_COLUMNS)
    frames = [
        o if list(o.columns) == canonical else o.reindex(columns=canonical) for o, _, _ in loads
    ]
    sizes = [len(frame) for frame in frames]
    if not sum(sizes):
        return []
    incoming = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    incoming = incoming.assign(
        submission_id=np.repeat(np.array([s for _, s, _ in loads], dtype="int64"), sizes),
        valid_from=np.repeat(np.array([t for _, _, t in loads], dtype="datetime64[us]"), sizes),
        _position=np.arange(len(incoming)),
    )
    key = ", ".join(C.OBSERVATION_KEY)
    con.register("_incoming", incoming)
    try:
        repeats = con.execute(
            f"select max(n) > 1 from (select count(*) as n from _incoming group by {key})"
        ).fetchone()[0]
        if repeats:  # a cell given twice: by two submissions (fine), or by one (not loadable)
            twice = con.execute(
                f"select distinct submission_id from _incoming group by submission_id, {key} "
                "having count(*) > 1 order by 1"
            ).fetchall()
            if twice:  # a bug upstream (validation rejects a repeated cell): name the files
                ids = [int(r[0]) for r in twice]
                first = next(o for o, s, _ in loads if s == ids[0])
                raise RepeatedCellError(str(_repeated_cell_problem(first)), ids)
        # the first submission of the batch that gives a cell closes the cell's current row
        match = " and ".join(f"o.{c} = f.{c}" for c in C.OBSERVATION_KEY)
        closed = con.execute(
            f"update observations o set valid_to = f.first_from "
            f"from (select {key}, min(valid_from) as first_from from _incoming group by {key}) f "
            f"where o.valid_to is null and {match} returning o.submission_id"
        ).fetchall()
        # and each later one closes the row of the one before it (a sort: only when needed)
        computed = {
            "valid_to": f"lead(valid_from) over (partition by {key} order by valid_from)"
            if repeats
            else "null",
        }
        # the insert casts each value to its column's type (the DDL above is the only type list)
        columns = ", ".join(OBSERVATION_TABLE_COLUMNS)
        values = ", ".join(computed.get(c, c) for c in OBSERVATION_TABLE_COLUMNS)
        con.execute(
            f"insert into observations ({columns}) "
            f"select {values} from _incoming order by _position"
        )
    finally:
        con.unregister("_incoming")
    # a submission can only lose its last current cell to this batch if it had a cell closed
    # by it: the warehouse's closed above, or any of the batch's own
    touched = {int(r[0]) for r in closed}
    touched.update(int(s) for (_, s, _), n in zip(loads, sizes, strict=True) if n)
    return mark_superseded(con, sorted(touched))


def repeated_cell(observations: pd.DataFrame) -> str | None:
    """The first cell given twice (its key, as text), or None: such a frame cannot be loaded."""
    key = list(C.OBSERVATION_KEY)
    twice = observations[key].duplicated(keep=False)
    if not twice.any():
        return None
    first = observations[twice].iloc[0]
    return ", ".join(str(first[c]) for c in key)


class RepeatedCellError(TipstatsError):
    """Submissions that give a cell twice: ``submission_ids``; the message names the first."""

    def __init__(self, message: str, submission_ids: Sequence[int]) -> None:
        super().__init__(message)
        self.submission_ids = list(submission_ids)


def _repeated_cell_problem(observations: pd.DataFrame) -> TipstatsError | None:
    twice = repeated_cell(observations)
    if twice is None:
        return None
    return TipstatsError(
        f"the harmonized submission holds the same cell twice ({twice}): nothing loaded"
    )


def mark_superseded(
    con: duckdb.DuckDBPyConnection, submission_ids: Sequence[int] | None = None
) -> list[int]:
    """An accepted submission with no current cell left is wholly superseded; return those marked.

    ``submission_ids`` limits the check to those submissions (the ones a load just closed
    cells of): checking every submission scans the whole table, once per file loaded.
    """
    only = "" if submission_ids is None else "and list_contains($ids, s.submission_id) "
    marked = con.execute(
        "update submissions s set status = 'superseded' where s.status = 'accepted' "
        f"and s.n_cells > 0 {only}and not exists (select 1 from current_observations c "
        "where c.submission_id = s.submission_id) returning submission_id",
        {} if submission_ids is None else {"ids": [int(i) for i in submission_ids]},
    ).fetchall()
    return sorted(int(r[0]) for r in marked)


def record_submissions(con: duckdb.DuckDBPyConnection, rows: Sequence[dict[str, object]]) -> None:
    """Insert ``submissions`` rows with one statement (each row names the same columns; the
    insert casts the values to the columns' types)."""
    if not rows:
        return
    table = pa.Table.from_pylist(list(rows))
    names = ", ".join(table.column_names)
    con.register("_submission_rows", table)
    try:
        con.execute(f"insert into submissions ({names}) select {names} from _submission_rows")
    finally:
        con.unregister("_submission_rows")


def _pause_for_tests() -> None:
    flag = os.environ.get(PAUSE_HOOK_ENV)
    if flag:
        Path(flag).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(PAUSE_SECONDS)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------- submit

BATCH_MAX_FILES = 500  # files stored in one transaction by ``submit_many``
BATCH_MAX_CELLS = 250_000  # or fewer, when their cells reach this many


def submit(
    path: Path | str,
    home: Home,
    *,
    now: dt.datetime | None = None,
    lock_timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> SubmissionResult:
    """Read, validate (against the warehouse's history), harmonize and load one file.

    The raw file is kept in ``raw/<sha256>.<ext>`` whatever the outcome. The same content twice
    changes nothing (status ``duplicate``). A rejected file, readable or not, adds only its row to
    ``submissions`` (``message`` says why when it could not be read); ``observations`` is
    untouched. An accepted one is loaded in one transaction with its ``submissions`` row.
    """
    from tipstats import checking
    from tipstats.codelists import load_codelists

    path = _submitted_file(path)
    home.ensure()
    digest = sha256_of(path)
    codelists = load_codelists()
    # Reading is slow and needs no lock; everything that depends on the warehouse happens under it.
    parsed, unreadable = checking.read_file(path)

    with write_connection(home, timeout=lock_timeout, on_wait=on_wait) as con:
        remove_orphan_parts(home)
        raw_path = keep_raw(path, home, digest)
        known = _submission_rows(con, [digest]).get(digest)
        if known is not None:
            return _duplicate(known, digest, path, raw_path)
        job = checking.Job(0, path, next_submission_id(con))
        countries = [] if parsed is None else checking.countries_of(parsed.frame, codelists)
        checked = checking.checked_file(
            job,
            parsed,
            unreadable,
            countries,
            lambda: current_for(con, countries),
            home.reports,
            codelists,
            contain_failures=False,  # a crash of validation is a bug: show it
        )
        loader = _Loader(codelists, now)
        stored = _prepare(con, loader, job, digest, raw_path, checked)
        _write(con, loader, [stored])  # a failure to load is a bug here too: it raises
        return stored.result


def submit_many(
    paths: Sequence[Path | str],
    home: Home,
    *,
    workers: int | None = None,
    now: dt.datetime | None = None,
    lock_timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    on_result: Callable[[SubmissionResult], None] | None = None,
) -> list[SubmissionResult]:
    """``submit`` for many files (or folders of files) at once: one result per file, in order.

    Takes the lock and opens the warehouse once, validates in ``workers`` processes (default:
    ``os.cpu_count()``; 1 = in this process) and stores the files in the order given, so each
    file gets the id, history and outcome that ``submit`` one after the other would give it.
    Files are stored in batches (up to ``BATCH_MAX_FILES`` files or ``BATCH_MAX_CELLS`` cells),
    one transaction each: every file of a batch is wholly stored or not at all. A bad file never
    stops the others: a file whose validation or load fails is logged as rejected with the
    reason in ``message`` (a batch that cannot be written is written again file by file, to
    find it). ``on_result`` is called as each file is stored (for progress; batch by batch).
    """
    from tipstats import checking
    from tipstats.codelists import load_codelists

    files = submission_files(paths)
    home.ensure()
    codelists = load_codelists()
    n_workers = _worker_count(workers, len(files))
    # Reading needs no lock (``submit`` too reads first): the workers read every file while
    # this process hashes them, copies them and waits for the warehouse; the reading of the
    # files found to be in the warehouse already is dropped if it has not started.
    reading = (
        checking.start_reading([checking.Job(i, p, 0) for i, p in enumerate(files)], n_workers)
        if n_workers > 1
        else None
    )
    try:
        digests = [sha256_of(path) for path in files]
        with write_connection(home, timeout=lock_timeout, on_wait=on_wait) as con:
            remove_orphan_parts(home)
            raw_paths = keep_raws(files, home, digests)
            known = _submission_rows(con, digests)
            batch = _Batch(con, _Loader(codelists, now), known, on_result)
            # the first copy of content new to the warehouse is checked; any other is a duplicate
            first_seen: dict[str, int] = {}
            for i, digest in enumerate(digests):
                if digest not in batch.known:
                    first_seen.setdefault(digest, i)
            first_id = next_submission_id(con)
            jobs = [
                checking.Job(i, files[i], first_id + n)
                for n, i in enumerate(sorted(first_seen.values()))
            ]
            if reading is not None and jobs:
                checked = checking.check_in_pool(
                    jobs, batch.history, home.reports, n_workers, reading
                )
            else:
                checked = checking.check_in_process(jobs, batch.history, home.reports)
            pending = iter(zip(jobs, checked, strict=True))
            for i, path in enumerate(files):
                if first_seen.get(digests[i]) == i:
                    job, done = next(pending)
                    batch.add(job, digests[i], raw_paths[i], done)
                else:  # in the warehouse, or stored earlier in this batch
                    batch.add_duplicate(digests[i], path, raw_paths[i])
            batch.flush()
    finally:
        if reading is not None:  # nothing left to read when the files were all known
            reading.cancel()
    return batch.results


def submission_files(paths: Sequence[Path | str]) -> list[Path]:
    """The files to submit: each file given, and the files of each folder given (by name,
    hidden ones skipped). A missing path is a usage error and nothing is submitted."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        if path.is_dir():
            files.extend(
                sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            )
        else:
            files.append(path)
    return files


POOL_MIN_FILES_PER_WORKER = 16  # below this, starting workers (~2 s) costs more than it saves


def _worker_count(workers: int | None, n_files: int) -> int:
    wanted = workers if workers is not None else (os.cpu_count() or 1)
    if wanted < 1:
        raise UsageError(f"workers must be at least 1, not {wanted}")
    return max(1, min(wanted, n_files // POOL_MIN_FILES_PER_WORKER))


def _submitted_file(path: Path | str) -> Path:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not a file")
    return path


_KNOWN_COLUMNS = (
    "submission_id",
    "status",
    "country",
    "layout",
    "n_rows",
    "n_cells",
    "n_errors",
    "n_warnings",
    "report_path",
)


def _submission_rows(
    con: duckdb.DuckDBPyConnection, digests: Sequence[str]
) -> dict[str, dict[str, object]]:
    """The ``submissions`` rows (what a duplicate reports) of the contents already received."""
    rows = con.execute(
        f"select sha256, {', '.join(_KNOWN_COLUMNS)} from submissions "
        "where list_contains(?, sha256)",
        [sorted(set(digests))],
    ).fetchall()
    return {str(r[0]): dict(zip(_KNOWN_COLUMNS, r[1:], strict=True)) for r in rows}


@dataclass
class _Loader:
    """What stays the same across the files stored on one connection."""

    codelists: object
    now: dt.datetime | None
    reference_current: bool = False  # ref_* checked against the files on this connection
    last_received: dt.datetime | None = None  # the latest ``received_at`` given out
    asked: bool = False  # whether ``last_received`` was read from the warehouse

    def received_at(self, con: duckdb.DuckDBPyConnection) -> dt.datetime:
        """``next_timestamp``, asking the warehouse once: this connection holds the write lock,
        so no other process adds submissions meanwhile."""
        if not self.asked:
            self.last_received = con.execute("select max(received_at) from submissions").fetchone()[
                0
            ]
            self.asked = True
        stamp = (self.now or _utcnow()).replace(tzinfo=None)
        if self.last_received is not None and stamp <= self.last_received:
            stamp = self.last_received + dt.timedelta(microseconds=1)
        self.last_received = stamp
        return stamp


@dataclass
class _Stored:
    """One checked file as it will be stored: its ``submissions`` row, its observations (when
    accepted) and the result ``submit`` gives; plus what it takes to store it again as rejected."""

    row: dict[str, object]
    observations: pd.DataFrame | None
    result: SubmissionResult
    countries: frozenset[str]  # of its observations
    job: Job
    digest: str
    raw_path: Path
    checked: Checked

    @property
    def validated(self) -> bool:  # read and validated, not rejected before that
        return self.checked.report is not None

    @property
    def n_cells(self) -> int:
        return 0 if self.observations is None else len(self.observations)


def _prepare(
    con: duckdb.DuckDBPyConnection,
    loader: _Loader,
    job: Job,
    digest: str,
    raw_path: Path,
    checked: Checked,
    received_at: dt.datetime | None = None,
) -> _Stored:
    """What storing ``checked`` writes and answers (no write yet)."""
    from tipstats.report_frame import ERROR, WARNING

    path: Path = job.path
    submission_id: int = job.submission_id
    if received_at is None:
        received_at = loader.received_at(con)
    base = {
        "submission_id": submission_id,
        "sha256": digest,
        "original_name": path.name,
        "raw_path": str(raw_path),
        "received_at": received_at,
    }
    report = checked.report
    if report is None:
        message = str(checked.problem)
        row = {
            **base,
            "country": None,
            "layout": None,
            "status": REJECTED,
            "n_rows": 0,
            "n_cells": 0,
            "n_errors": 1,
            "n_warnings": 0,
            "report_path": None,
            "message": message,
        }
        # A rejection like any other (no exception), so callers such as the inbox flow
        # archive the file instead of retrying it; the CLI exits with the error's code.
        result = SubmissionResult(
            status=REJECTED,
            submission_id=submission_id,
            sha256=digest,
            original_name=path.name,
            raw_path=raw_path,
            n_errors=1,
            message=message,
            exit_code=checked.problem_exit_code,
        )
        return _Stored(row, None, result, frozenset(), job, digest, raw_path, checked)
    paths = checked.paths
    # ``report.n_errors``, ``n_warnings`` and ``accepted`` each count the report's rows with
    # pandas (~0.3 ms a time): counted once here, at thousands of files a batch
    severities = Counter(report.table["severity"].tolist())
    n_errors, n_warnings = severities[ERROR], severities[WARNING]
    accepted = n_errors == 0
    observations = report.observations if accepted else None
    if observations is not None and len(observations):
        # Python values, not ``unique()``: in a pool's caller pyarrow's unique took ~4 ms a file
        # (profiled): it gives up the GIL to a thread unpickling the workers' results
        found = set(observations[C.COUNTRY].tolist())
        loaded_countries = sorted(str(c) for c in found if not pd.isna(c))
    else:
        loaded_countries = checked.countries
    country = loaded_countries[0] if len(loaded_countries) == 1 else None
    row = {
        **base,
        "country": country,
        "layout": report.layout,
        "status": ACCEPTED if accepted else REJECTED,
        "n_rows": report.n_rows,
        "n_cells": 0 if observations is None else len(observations),
        "n_errors": n_errors,
        "n_warnings": n_warnings,
        "report_path": str(paths.csv),
        "message": None,
    }
    result = SubmissionResult(
        status=str(row["status"]),
        submission_id=submission_id,
        sha256=digest,
        original_name=path.name,
        raw_path=raw_path,
        country=country,
        layout=report.layout,
        n_rows=report.n_rows,
        n_cells=int(row["n_cells"]),
        n_errors=n_errors,
        n_warnings=n_warnings,
        report_path=paths.csv,
        report_html=paths.html,
        report=report,
    )
    countries = frozenset(str(c) for c in loaded_countries) if observations is not None else None
    return _Stored(
        row, observations, result, countries or frozenset(), job, digest, raw_path, checked
    )


def _as_rejected(
    con: duckdb.DuckDBPyConnection, loader: _Loader, stored: _Stored, problem: Exception
) -> _Stored:
    """``stored`` logged as a file that could not be loaded (same id and timestamp)."""
    reason = f"{stored.job.path.name}: could not be loaded ({_first_line(problem)})"
    failed = replace(stored.checked, report=None, paths=None, problem=reason)
    return _prepare(
        con,
        loader,
        stored.job,
        stored.digest,
        stored.raw_path,
        failed,
        received_at=stored.row["received_at"],
    )


def _write(con: duckdb.DuckDBPyConnection, loader: _Loader, batch: Sequence[_Stored]) -> list[int]:
    """Store ``batch`` in one transaction: its ``submissions`` rows in one insert, the
    observations of the accepted files in one load. Returns the submissions it superseded."""
    validated = any(stored.validated for stored in batch)
    con.execute("begin transaction")
    try:
        if validated and not loader.reference_current:
            load_reference(con, loader.codelists)
        record_submissions(con, [stored.row for stored in batch])
        superseded = load_batch(
            con,
            [
                (stored.observations, stored.job.submission_id, stored.row["received_at"])
                for stored in batch
                if stored.observations is not None
            ],
        )
        if validated:
            _pause_for_tests()
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    if validated:
        loader.reference_current = True
    return superseded


@dataclass
class _Batch:
    """The files ``submit_many`` has checked and not stored yet, and the results given so far.

    Files are written a batch at a time; results come out in file order. Duplicates are answered
    from ``known`` (the ``submissions`` rows of the batch's contents), kept up to date as files
    are stored.
    """

    con: duckdb.DuckDBPyConnection
    loader: _Loader
    known: dict[str, dict[str, object]]  # sha256 -> its submissions row
    on_result: Callable[[SubmissionResult], None] | None = None
    results: list[SubmissionResult] = field(default_factory=list)
    pending: list[_Stored] = field(default_factory=list)
    queue: list[_Stored | SubmissionResult] = field(default_factory=list)  # in file order
    n_cells: int = 0

    def add(self, job: Job, digest: str, raw_path: Path, checked: Checked) -> None:
        stored = _prepare(self.con, self.loader, job, digest, raw_path, checked)
        self.pending.append(stored)
        self.queue.append(stored)
        self.known[digest] = {c: stored.row[c] for c in _KNOWN_COLUMNS}
        self.n_cells += stored.n_cells
        if len(self.pending) >= BATCH_MAX_FILES or self.n_cells >= BATCH_MAX_CELLS:
            self.flush()

    def add_duplicate(self, digest: str, path: Path, raw_path: Path) -> None:
        if self._may_change(self.known[digest]):
            self.flush()  # its status is the one it has once the files before are stored
        self.queue.append(_duplicate(self.known[digest], digest, path, raw_path))
        if not self.pending:
            self._give_results()

    def _may_change(self, original: dict[str, object]) -> bool:
        """Whether storing the pending files may change the status of ``original``: rejected
        when it is pending and fails to load, superseded by a later file with its cells."""
        if original["status"] != ACCEPTED:
            return False
        original_id = int(original["submission_id"])
        country = original["country"]
        return any(
            stored.job.submission_id == original_id
            or (
                stored.job.submission_id > original_id
                and stored.n_cells > 0
                and int(original["n_cells"]) > 0
                and (country is None or country in stored.countries)
            )
            for stored in self.pending
        )

    def history(self, countries: Sequence[str]) -> pd.DataFrame:
        """The current observations of ``countries`` as if the pending files were stored."""
        from tipstats import checking

        current = current_for(self.con, countries)
        wanted = set(countries)
        later = [
            stored.observations
            for stored in self.pending
            if stored.n_cells and stored.countries & wanted
        ]
        if not later:
            return current
        return checking.history_of(
            checking.after_load(current, pd.concat(later, ignore_index=True)), countries
        )

    def flush(self) -> None:
        """Store the pending files, then give out the results queued so far."""
        if self.pending:
            written = self._write_pending()
            by_position = {id(old): new for old, new in zip(self.pending, written, strict=True)}
            self.queue = [by_position.get(id(entry), entry) for entry in self.queue]
            self.pending = []
            self.n_cells = 0
        self._give_results()

    def _write_pending(self) -> list[_Stored]:
        """One transaction for all; if it fails, one per file, so that a file that cannot be
        loaded is logged as rejected, with the reason, and never stops the others. Returns the
        pending files as written, in order."""
        batch = self.pending
        if len(batch) > 1:
            try:
                self._update_known(batch, _write(self.con, self.loader, batch))
                return batch
            except RepeatedCellError as problem:  # those files are known: reject them, retry
                batch = [self._without_repeats(stored, problem) for stored in batch]
                try:
                    self._update_known(batch, _write(self.con, self.loader, batch))
                    return batch
                except (TipstatsError, duckdb.Error):
                    pass  # some other file cannot be loaded: find it, one by one
            except (TipstatsError, duckdb.Error):
                pass  # some file cannot be loaded: find it, storing the files one by one
        written = []
        for stored in batch:
            try:
                superseded = _write(self.con, self.loader, [stored])
            except (TipstatsError, duckdb.Error) as problem:
                stored = _as_rejected(self.con, self.loader, stored, problem)
                superseded = _write(self.con, self.loader, [stored])
            self._update_known([stored], superseded)
            written.append(stored)
        return written

    def _without_repeats(self, stored: _Stored, problem: RepeatedCellError) -> _Stored:
        if stored.job.submission_id not in problem.submission_ids:
            return stored
        own = _repeated_cell_problem(stored.observations)
        return _as_rejected(self.con, self.loader, stored, own or problem)

    def _update_known(self, written: Sequence[_Stored], superseded: Sequence[int]) -> None:
        for stored in written:
            self.known[stored.digest] = {c: stored.row[c] for c in _KNOWN_COLUMNS}
        gone = set(superseded)
        for row in self.known.values():
            if row["submission_id"] in gone:
                row["status"] = SUPERSEDED

    def _give_results(self) -> None:
        for entry in self.queue:
            result = entry.result if isinstance(entry, _Stored) else entry
            self.results.append(result)
            if self.on_result is not None:
                self.on_result(result)
        self.queue = []


def keep_raws(files: Sequence[Path], home: Home, digests: Sequence[str]) -> list[Path]:
    """``keep_raw`` for many files, listing ``raw/`` once instead of asking for each file."""
    home.raw.mkdir(parents=True, exist_ok=True)
    present = set(os.listdir(home.raw))
    kept = []
    for path, digest in zip(files, digests, strict=True):
        name = f"{digest}{path.suffix.lower() or '.bin'}"
        if name in present:
            kept.append(home.raw / name)
        else:
            kept.append(keep_raw(path, home, digest))
            present.add(name)
    return kept


def _duplicate(
    known: dict[str, object], digest: str, path: Path, raw_path: Path
) -> SubmissionResult:
    submission_id, status = int(known["submission_id"]), str(known["status"])
    report_path = known["report_path"]
    return SubmissionResult(
        status=DUPLICATE,
        submission_id=submission_id,
        sha256=digest,
        original_name=path.name,
        raw_path=raw_path,
        country=known["country"],
        layout=known["layout"],
        n_rows=int(known["n_rows"]),
        n_cells=int(known["n_cells"]),
        n_errors=int(known["n_errors"]),
        n_warnings=int(known["n_warnings"]),
        report_path=Path(report_path) if report_path else None,
        message=f"already received as submission {submission_id} ({status})",
        duplicate_of_status=status,
    )


# --------------------------------------------------------------------------- reading


def query(home: Home, sql: str, *, on_wait: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Run read statements on a read-only connection (the last one's rows); writes are refused."""
    with read_connection(home, on_wait=on_wait) as con:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as problem:
            raise TipstatsError(f"the query does not parse: {_first_line(problem)}") from None
        if not statements:
            raise UsageError("no SQL statement given")
        for statement in statements:
            kind = statement.type.name
            if kind not in READ_STATEMENTS:
                raise TipstatsError(
                    f"the warehouse is read-only for queries: a {kind} statement is refused "
                    "(use SELECT; data enters only through `tipstats submit`)"
                )
        try:
            for statement in statements[:-1]:
                con.execute(statement)
            return con.execute(statements[-1]).df()
        except duckdb.Error as problem:
            if "read-only" in str(problem):
                raise TipstatsError(
                    f"the warehouse is read-only for queries: {_first_line(problem)}"
                ) from None
            raise TipstatsError(f"query failed: {_first_line(problem)}") from None


def read_tables(home: Home, names: Sequence[str]) -> dict[str, pd.DataFrame | None]:
    """Each named table or view as a frame, or None when the warehouse has no such table."""
    with read_connection(home) as con:
        present = {
            str(r[0])
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        return {
            name: (con.execute(f'select * from "{name}"').df() if name in present else None)
            for name in names
        }


def as_of(home: Home, when: dt.datetime | dt.date | str) -> pd.DataFrame:
    """The observations as the warehouse knew them at ``when`` (UTC)."""
    with read_connection(home) as con:
        return con.execute(
            "select * from as_of(?) order by country, year, indicator, sex, age, exploitation, "
            "citizenship, source",
            [pd.Timestamp(when).to_pydatetime()],
        ).df()


HISTORY_SQL = """
with mine as (select * from observations where country = $country),
changes as (
    select n.submission_id, n.year,
           o.submission_id is not null as had_previous,
           o.submission_id is not null
               and (n.value is distinct from o.value or n.status is distinct from o.status)
               as revised,
           n.valid_to is not null as superseded
    from mine n
    left join mine o
      on o.valid_to = n.valid_from and o.year = n.year and o.indicator = n.indicator
     and o.sex = n.sex and o.age = n.age and o.exploitation = n.exploitation
     and o.citizenship = n.citizenship and o.source = n.source
),
per_submission as (
    select submission_id,
           count(*) as cells,
           count(*) filter (where not had_previous) as added,
           count(*) filter (where revised) as revised,
           count(*) filter (where had_previous and not revised) as unchanged,
           count(*) filter (where superseded) as superseded_later,
           min(year) as first_year,
           max(year) as last_year
    from changes group by submission_id
)
select s.submission_id, date_trunc('second', s.received_at) as received_at,
       s.original_name, s.layout, s.status,
       coalesce(p.cells, 0) as cells, coalesce(p.added, 0) as added,
       coalesce(p.revised, 0) as revised, coalesce(p.unchanged, 0) as unchanged,
       coalesce(p.superseded_later, 0) as superseded_later,
       p.first_year, p.last_year, s.n_errors, s.n_warnings
from submissions s left join per_submission p using (submission_id)
where s.country = $country or p.submission_id is not null
order by s.submission_id
"""


def history(
    home: Home, country: str, *, on_wait: Callable[[str], None] | None = None
) -> pd.DataFrame:
    """A country's submissions, oldest first, and what each changed for that country.

    ``added``: cells it was the first to give; ``revised``: cells whose value or status it
    changed; ``unchanged``: cells it sent again as they were; ``superseded_later``: its cells
    that a newer submission has since replaced.
    """
    with read_connection(home, on_wait=on_wait) as con:
        return con.execute(HISTORY_SQL, {"country": country.upper()}).df()


def export_parquet(
    home: Home, out: Path | None = None, *, on_wait: Callable[[str], None] | None = None
) -> Path:
    """Write the current observations as hive-partitioned Parquet (``year=YYYY/``); return the dir.

    Written into a fresh folder next to the target, then swapped in, so readers never see half.
    """
    target = Path(out) if out is not None else home.exports / "parquet" / "observations"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with read_connection(home, on_wait=on_wait) as con:
            con.execute(
                f"copy (select * from current_observations order by country, year) "
                f"to '{_sql_text(staging)}' (format parquet, partition_by (year), "
                "overwrite_or_ignore true)"
            )
        if target.exists():
            retired = target.with_name(f".{target.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            os.replace(target, retired)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def _first_line(problem: Exception) -> str:
    text = str(problem).strip()
    return text.splitlines()[0] if text else type(problem).__name__


# --------------------------------------------------------------------------- MSE estimates (#9)

ESTIMATED_TOTAL_INDICATOR = "VICTIMS_ESTIMATED_TOTAL"


def record_estimate(
    home: Home,
    country: str,
    year: int,
    result: object,
    *,
    source_file: str | None = None,
    codelists: object | None = None,
) -> dict[str, object]:
    """Store an MSE result as the estimated total victims (status E) of a country and year.

    Kept in its own ``estimates`` table, apart from the detected victims in ``observations``; a
    new estimate for the same country and year closes the previous one (``valid_to``), as vintages.
    ``result`` is a ``tipstats.mse.MSEResult``; the indicator code comes from the code lists.
    """
    from tipstats.codelists import load_codelists

    codes = codelists if codelists is not None else load_codelists()
    if ESTIMATED_TOTAL_INDICATOR not in codes.codes("indicator"):
        raise TipstatsError(f"the code lists have no indicator {ESTIMATED_TOTAL_INDICATOR}")
    iso3 = codes.country_iso3(country)
    if iso3 is None:
        raise UsageError(f"unknown country {country!r}")
    if not 1900 <= int(year) <= 2100:
        raise UsageError(f"implausible year {year}")
    fields = result.to_dict()
    row = {
        "country": iso3,
        "year": int(year),
        "indicator": ESTIMATED_TOTAL_INDICATOR,
        "value": float(fields["estimate"]),
        "status": "E",
        "ci_low": fields["ci_low"],
        "ci_high": fields["ci_high"],
        "ci_level": fields["ci_level"],
        "observed": int(fields["observed"]),
        "method": "MSE stepwise log-linear (Chan, Silverman and Vincent 2021), BCa bootstrap",
        "model": str(fields["model"]),
        "lists": ",".join(fields["lists"]),
        "threshold": fields["threshold"],
        "seed": fields["seed"],
        "n_resamples": fields["n_resamples"],
        "source_file": source_file,
    }
    with write_connection(home) as con:
        now = next_timestamp(con, None)
        row["valid_from"] = now
        con.execute("begin transaction")
        con.execute(
            "update estimates set valid_to = ? where country = ? and year = ? "
            "and indicator = ? and valid_to is null",
            [now, iso3, int(year), ESTIMATED_TOTAL_INDICATOR],
        )
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into estimates ({names}) values ({marks})", list(row.values()))
        con.execute("commit")
    return row
