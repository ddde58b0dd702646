"""Read and validate submitted files before the warehouse loads them: one by one or in a pool.

No DuckDB here. The warehouse gives each file its *history* (the current observations of the
countries it names) and loads what comes back. ``check_in_order`` does it one file at a time
and asks for each file's history just before validating it, so a file sees every file loaded
before it (what ``submit`` does). ``check_in_pool`` validates files in worker processes: files
that share a country form a *chain* validated in order by one worker, which applies each accepted
file to the chain's history as the warehouse will; chains with no country in common are
independent, so the pool gives every file the history a one-by-one run would give it. Each
task of the pool is a group of whole chains (a few hundred files), which the worker validates in
one pass (``validation_batch.validate_batch``): validating a small file alone is mostly fixed
cost. ``check_in_process`` does the same without a pool. The pool is started once per process
and kept for the next call; parsed files stay in the workers (only countries and results
travel).
"""

from __future__ import annotations

import atexit
import functools
import itertools
import math
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from tipstats import columns as C
from tipstats import (
    validation,  # called through the module: tests may replace ``validate``
    validation_batch,
)
from tipstats.codelists import CodeLists, load_codelists
from tipstats.errors import TipstatsError, UnreadableFileError
from tipstats.home import reference_dir
from tipstats.readers import ParsedFile, read_submission
from tipstats.report_frame import empty_report
from tipstats.reports import ReportPaths, report_stem, write_report
from tipstats.validation import ValidationReport
from tipstats.warehouse import canonical_types

REFERENCE_ENV = "TIPSTATS_REFERENCE_DIR"
GROUP_MAX_FILES = 400  # files per pool task: one batch validation pass each

# history of some countries -> the current observations of those countries
HistorySource = Callable[[Sequence[str]], pd.DataFrame]


@dataclass(frozen=True)
class Job:
    """One file to check: its place in the batch and the submission id it will be stored as."""

    index: int
    path: Path
    submission_id: int


@dataclass
class Checked:
    """A file read and validated, ready to load (or to log as rejected)."""

    index: int
    submission_id: int
    countries: list[str]
    report: ValidationReport | None = None
    paths: ReportPaths | None = None
    problem: str | None = None  # why it could not be read or validated; None when validated
    problem_exit_code: int = 1


# --------------------------------------------------------------------------- one file


def read_file(path: Path) -> tuple[ParsedFile | None, TipstatsError | None]:
    """The parsed file, or the one-line reason it cannot be read (never an exception)."""
    try:
        return read_submission(path), None
    except TipstatsError as problem:
        return None, problem
    except (MemoryError, RecursionError) as problem:
        unreadable = UnreadableFileError(f"{path.name}: too large or too deeply nested to read")
        unreadable.__cause__ = problem
        return None, unreadable
    except Exception as problem:  # noqa: BLE001  a reader failure on a strange file: one line
        reason = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
        return None, UnreadableFileError(f"{path.name}: cannot be read ({reason[:200]})")


def countries_of(frame: pd.DataFrame, codelists: CodeLists) -> list[str]:
    """ISO3 codes of the countries a parsed file names (what its history is made of)."""
    return validation_batch.countries_of(frame, codelists)


def validate_and_report(
    job: Job, parsed: ParsedFile, history: pd.DataFrame, reports_dir: Path, codelists: CodeLists
) -> tuple[ValidationReport, ReportPaths]:
    """Validate against ``history`` and write ``<submission id>_<name>.validation.{csv,html}``."""
    report = validation.validate(parsed, codelists, history)
    stem = f"{job.submission_id:06d}_{report_stem(job.path.name)}"
    return report, write_report(report, reports_dir, job.path.name, stem=stem)


def history_of(history: pd.DataFrame, countries: Sequence[str]) -> pd.DataFrame:
    """The rows of ``history`` for ``countries``, as the warehouse's ``current_for`` gives them."""
    if not countries:
        return pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS))
    mine = history[history[C.COUNTRY].isin(list(countries))]
    return canonical_types(mine.reset_index(drop=True))


def after_load(history: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """``history`` once ``observations`` are loaded: their cells replace the same cells."""
    incoming = canonical_types(observations.reindex(columns=list(C.OBSERVATION_COLUMNS)))
    if history.empty:
        return incoming.reset_index(drop=True)
    merged = pd.concat([canonical_types(history), incoming], ignore_index=True)
    return merged.drop_duplicates(subset=list(C.OBSERVATION_KEY), keep="last").reset_index(
        drop=True
    )


def checked_file(
    job: Job,
    parsed: ParsedFile | None,
    unreadable: TipstatsError | None,
    countries: list[str],
    history: Callable[[], pd.DataFrame],
    reports_dir: Path,
    codelists: CodeLists,
    *,
    contain_failures: bool = True,
) -> Checked:
    """Validate a read file (``history`` is asked only then) and write its report; or say why
    it could not be read. ``contain_failures``: an unexpected error in validation becomes the
    file's rejection reason instead of an exception, so that one file never stops a batch."""
    if parsed is None:
        assert unreadable is not None
        return Checked(
            job.index,
            job.submission_id,
            countries,
            problem=str(unreadable),
            problem_exit_code=unreadable.exit_code,
        )
    try:
        report, paths = validate_and_report(job, parsed, history(), reports_dir, codelists)
    except TipstatsError as problem:
        return failed(job, countries, problem)
    except Exception as problem:  # noqa: BLE001  one file's failure must not stop a batch
        if not contain_failures:
            raise
        return failed(job, countries, problem)
    return Checked(job.index, job.submission_id, countries, report=report, paths=paths)


def failed(job: Job, countries: list[str], problem: Exception) -> Checked:
    """A file whose validation raised: rejected with the reason in one line."""
    if isinstance(problem, TipstatsError):
        return Checked(job.index, job.submission_id, countries, problem=str(problem))
    reason = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
    text = f"{job.path.name}: validation failed ({type(problem).__name__}: {reason[:200]})"
    return Checked(job.index, job.submission_id, countries, problem=text)


# --------------------------------------------------------------------------- many files


def check_in_order(
    jobs: Sequence[Job], history: HistorySource, reports_dir: Path, codelists: CodeLists
) -> Iterator[Checked]:
    """Check the files one by one, in order; ``history`` is asked when each file's turn comes
    (the caller loads each yielded file before asking for the next)."""
    for job in jobs:
        parsed, unreadable = read_file(job.path)
        countries = [] if parsed is None else countries_of(parsed.frame, codelists)
        yield checked_file(
            job,
            parsed,
            unreadable,
            countries,
            lambda countries=countries: history(countries),
            reports_dir,
            codelists,
        )


def check_in_pool(
    jobs: Sequence[Job],
    history: HistorySource,
    reports_dir: Path,
    workers: int,
    reading: Reading | None = None,
) -> Iterator[Checked]:
    """Check the files in ``workers`` processes; yield them in the order of ``jobs``.

    Reading runs first (it tells which countries each file names), or ran already
    (``reading``: started by ``start_reading`` with a ``Job`` of the same index for each of
    ``jobs``, and maybe for files not checked after all); ``history`` is asked once, for every
    country of the batch, before any file is loaded. Parsed files stay in the workers: reading
    sends back only each file's countries (or why it cannot be read). Each worker reads the
    files whose names look alike (``AFG_2005.csv``, ``AFG_2006.csv``: most likely one chain),
    and each chain is validated by the worker that read most of its files, which takes them
    from what it read (another worker's files are read again: cheaper than sending each parsed
    file to the caller and out again). The workers are kept for the next call in this process
    (see ``shutdown_pool``).
    """
    if reading is None:
        reading = start_reading(jobs, workers)
    lanes = shared_pool(workers)
    futures: dict[int, Future[_Packed]] = {}
    try:
        read_of = reading.results({job.index for job in jobs})
        reads = [read_of[job.index][0] for job in jobs]
        read_by = [read_of[job.index][1] for job in jobs]
        sizes = [reading.sizes[job.index] for job in jobs]
        batch = reading.batch
        countries = [found for _, found in reads]
        wanted = sorted({c for found in countries for c in found})
        known = canonical_types(history(wanted)) if wanted else history([])
        for lane, group in route_groups(chains(countries), read_by, sizes, lanes.workers):
            links = [(jobs[i], *reads[i]) for i in group]
            group_countries = sorted({c for i in group for c in countries[i]})
            future = lanes.lane(lane).submit(
                _check_group, batch, links, history_of(known, group_countries), reports_dir
            )
            for i in group:
                futures[i] = future
        done: dict[int, Checked] = {}
        for i, job in enumerate(jobs):
            if job.index not in done:
                done.update((c.index, c) for c in futures[i].result().unpack())
            yield done.pop(job.index)
    finally:  # the caller stopped early (an error, an interrupt): drop the tasks not started
        reading.cancel()
        for future in futures.values():
            future.cancel()


def _size_of(path: Path) -> int:
    # what reading and validating a file costs grows with its bytes
    try:
        return max(1, path.stat().st_size)
    except OSError:
        return 1


READ_CHUNK = 32  # files a worker reads in one task


@dataclass
class Reading:
    """Files being read in the workers: each worker reads its ``share_by_name`` share, in
    tasks of ``READ_CHUNK`` files, and keeps the parsed files for the groups it will check."""

    batch: int
    sizes: dict[int, int]  # job index -> bytes
    chunks: list[tuple[int, list[int], Future[list[tuple[str | None, list[str]]]]]]

    def results(self, wanted: set[int]) -> dict[int, tuple[tuple[str | None, list[str]], int]]:
        """(read, worker) of each file of ``wanted``; chunks of none of them are dropped."""
        found: dict[int, tuple[tuple[str | None, list[str]], int]] = {}
        for lane, indices, future in self.chunks:
            if not wanted.intersection(indices):
                future.cancel()  # e.g. files already in the warehouse (not if it started)
                continue
            for index, read in zip(indices, future.result(), strict=True):
                found[index] = (read, lane)
        return found

    def cancel(self) -> None:
        """Drop the chunks not started (the caller gave up, or checks none of the files)."""
        for _, _, future in self.chunks:
            future.cancel()


def start_reading(jobs: Sequence[Job], workers: int) -> Reading:
    """Start reading ``jobs``' files in the shared workers (``check_in_pool`` takes the
    outcome): reading needs no warehouse, so it can run while the caller copies the raw
    files and waits for the warehouse's lock."""
    lanes = shared_pool(workers)
    batch = next(_BATCHES)
    sizes = [_size_of(job.path) for job in jobs]
    shares = share_by_name([job.path.name for job in jobs], sizes, lanes.workers)
    chunks = []
    for lane, share in enumerate(shares):
        for start in range(0, len(share), READ_CHUNK):
            part = [jobs[i] for i in share[start : start + READ_CHUNK]]
            future = lanes.lane(lane).submit(_read_jobs, batch, part)
            chunks.append((lane, [job.index for job in part], future))
    return Reading(batch, {job.index: size for job, size in zip(jobs, sizes, strict=True)}, chunks)


def share_by_name(names: Sequence[str], sizes: Sequence[int], workers: int) -> list[list[int]]:
    """Positions of the files each worker reads: files named alike (``AFG_2005``,
    ``AFG_2006``: most likely one country's chain) go to the same worker, each set of them to
    the worker with the fewest bytes so far, the largest first. A guess only: which worker
    validates a chain is decided by what the files say (``route_groups``)."""
    keyed = sorted(range(len(names)), key=lambda i: (_name_key(names[i]), i))
    total = sum(sizes)
    parts: list[list[int]] = []
    for _, run in itertools.groupby(keyed, key=lambda i: _name_key(names[i])[0]):
        files = list(run)
        # names that say nothing (one run larger than a worker's share): file by file
        whole = sum(sizes[i] for i in files) * workers <= total
        parts.extend([files] if whole else [[i] for i in files])
    shares: list[list[int]] = [[] for _ in range(workers)]
    load = [0] * workers
    for part in sorted(parts, key=lambda part: -sum(sizes[i] for i in part)):
        lane = min(range(workers), key=load.__getitem__)
        shares[lane].extend(part)
        load[lane] += sum(sizes[i] for i in part)
    return [sorted(share) for share in shares]


def _name_key(name: str) -> tuple[str, str]:
    # the name up to its first separator (``AFG`` of ``AFG_2005.csv``), then the whole name
    stem = name.rsplit(".", 1)[0].casefold()
    for separator in "_- .":
        stem = stem.split(separator, 1)[0]
    return stem, name


REREAD_COST = 1.0  # reading a file again costs about what validating it does (per byte)
MAX_MOVES = 64  # reading shares the bytes evenly: balancing takes a few moves, if any


def route_groups(
    chain_list: Sequence[Sequence[int]],
    read_by: Sequence[int],
    sizes: Sequence[int],
    workers: int,
    max_files: int = GROUP_MAX_FILES,
) -> list[tuple[int, list[int]]]:
    """(worker, file positions) of each group to validate. Each chain goes to the worker that
    read most of its bytes (which need not read them again); then, while it shortens the
    longest worker's work, a chain moves from the busiest worker to the least busy, which
    reads again what it did not read (``REREAD_COST``). A worker's chains, in file order,
    are packed into groups of up to ``max_files`` files: a pass costs ~0.1 s whatever its
    size, so few and large ones, but more than one when a worker has many, so that the caller
    can store the first while the next is checked. Groups come in the order of their first
    file, each group's positions in file order."""
    weight = [sum(sizes[i] for i in chain) for chain in chain_list]
    read_here = [[0] * workers for _ in chain_list]
    for c, chain in enumerate(chain_list):
        for i in chain:
            read_here[c][read_by[i]] += sizes[i]
    # the cost of checking chain c on worker k
    cost = [
        [weight[c] + REREAD_COST * (weight[c] - read_here[c][k]) for k in range(workers)]
        for c in range(len(chain_list))
    ]
    lane_of = [min(range(workers), key=lambda k, c=c: (cost[c][k], k)) for c in range(len(cost))]
    load = [0.0] * workers
    for c, k in enumerate(lane_of):
        load[k] += cost[c][k]
    for _ in range(min(len(chain_list), MAX_MOVES)):  # each shortens the longest
        busiest = max(range(workers), key=load.__getitem__)
        idlest = min(range(workers), key=load.__getitem__)
        best, best_span = None, load[busiest]
        for c, k in enumerate(lane_of):
            if k == busiest:
                span = max(load[busiest] - cost[c][busiest], load[idlest] + cost[c][idlest])
                if span < best_span:
                    best, best_span = c, span
        if best is None:
            break
        load[busiest] -= cost[best][busiest]
        load[idlest] += cost[best][idlest]
        lane_of[best] = idlest
    mine: list[list[Sequence[int]]] = [[] for _ in range(workers)]
    for c, k in enumerate(lane_of):
        mine[k].append(chain_list[c])
    groups: list[tuple[int, list[int]]] = []
    for lane, lane_chains in enumerate(mine):
        n_files = sum(len(c) for c in lane_chains)
        size = math.ceil(n_files / max(1, math.ceil(n_files / max_files))) if n_files else 1
        for group in chain_groups_in_order(lane_chains, size):
            groups.append((lane, group))
    return sorted(groups, key=lambda g: g[1][0])


def chain_groups_in_order(chain_list: Sequence[Sequence[int]], size: int) -> list[list[int]]:
    """Whole chains, in the order of their first file, packed into groups of about ``size``
    files (a longer chain is a group of its own); each group's positions in file order."""
    return _packed(sorted(chain_list, key=min), size)


def check_in_process(
    jobs: Sequence[Job], history: HistorySource, reports_dir: Path
) -> Iterator[Checked]:
    """``check_in_pool`` without a pool: groups of whole chains validated in one pass each
    (``validation_batch.validate_batch``) in this process, instead of ``validate`` file by
    file (~50 ms each). ``history`` is asked once, for every country of the batch, before any
    file is loaded (``check_in_order`` asks before each file)."""
    batch = next(_BATCHES)
    try:
        reads = [_read_job((batch, job)) for job in jobs]
        countries = [found for _, found in reads]
        wanted = sorted({c for found in countries for c in found})
        known = canonical_types(history(wanted)) if wanted else history([])
        group_of: dict[int, list[int]] = {}
        for group in chain_groups(countries, GROUP_MAX_FILES):
            group_of.update((i, group) for i in group)
        done: dict[int, Checked] = {}
        for i, job in enumerate(jobs):
            if job.index not in done:
                group = group_of[i]
                links = [(jobs[k], *reads[k]) for k in group]
                mine = history_of(known, sorted({c for k in group for c in countries[k]}))
                done.update((c.index, c) for c in _checked_group(batch, links, mine, reports_dir))
            yield done.pop(job.index)
    finally:  # parsed files of groups not checked (the caller stopped early)
        _parsed_here.clear()


_BATCHES = itertools.count(1)  # tells a worker's parsed files of one call from another's
_POOL_LOCK = threading.Lock()
_pools: dict[tuple[int, str], WorkerLanes] = {}  # (workers, reference folder) -> its workers


class WorkerLanes(Executor):
    """``workers`` worker processes, each behind an executor of its own (a *lane*), so that a
    task can go to a given worker (``lane(k).submit``): the one that holds its parsed files.
    ``submit`` sends a task to whichever worker frees up first, as a ``ProcessPoolExecutor``
    does (at most ``IN_FLIGHT`` tasks queued at a worker, the rest held here)."""

    IN_FLIGHT = 2  # a worker's next task is waiting when it finishes one

    def __init__(self, workers: int, reference: str) -> None:
        self.workers = workers
        self._reference = reference
        self._lanes = [self._start() for _ in range(workers)]
        self._lock = threading.RLock()
        self._waiting: deque[tuple[Future[Any], Callable[..., Any], tuple, dict]] = deque()
        self._in_flight = [0] * workers

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=_pool_context(),
            initializer=_start_worker,
            initargs=(self._reference,),
        )

    @property
    def broken(self) -> bool:
        return any(getattr(lane, "_broken", False) for lane in self._lanes)

    def lane(self, k: int) -> ProcessPoolExecutor:
        """The executor of worker ``k`` (one process)."""
        return self._lanes[k]

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        outer: Future[Any] = Future()
        with self._lock:
            self._waiting.append((outer, fn, args, kwargs))
            self._dispatch()
        return outer

    def _dispatch(self) -> None:
        with self._lock:
            while self._waiting:
                lane = min(range(self.workers), key=self._in_flight.__getitem__)
                if self._in_flight[lane] >= self.IN_FLIGHT:
                    return
                self._send(lane, *self._waiting.popleft())

    def _send(
        self, lane: int, outer: Future[Any], fn: Callable[..., Any], args: tuple, kwargs: dict
    ) -> None:
        if not outer.set_running_or_notify_cancel():
            return
        try:
            inner = self._lanes[lane].submit(fn, *args, **kwargs)
        except BaseException as problem:  # a broken or stopped worker: the task's error
            outer.set_exception(problem)
            return
        self._in_flight[lane] += 1
        inner.add_done_callback(functools.partial(self._finished, lane, outer))

    def _finished(self, lane: int, outer: Future[Any], inner: Future[Any]) -> None:
        with self._lock:
            self._in_flight[lane] -= 1
        if inner.cancelled():
            outer.set_exception(CancelledError())
        elif inner.exception() is not None:
            outer.set_exception(inner.exception())
        else:
            outer.set_result(inner.result())
        self._dispatch()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            waiting, self._waiting = list(self._waiting), deque()
            for n, (outer, fn, args, kwargs) in enumerate(waiting):
                if cancel_futures:
                    outer.cancel()
                else:  # what was submitted still runs (``Executor.shutdown``)
                    self._send(n % self.workers, outer, fn, args, kwargs)
        for lane in self._lanes:
            lane.shutdown(wait=wait, cancel_futures=cancel_futures)


def shared_pool(workers: int) -> WorkerLanes:
    """The process's ``workers`` worker processes for the current reference data: started
    once (a worker takes ~0.75 s to start on a busy machine) and kept; started again if one of
    them died. One set per size, so that a call never stops another's workers. Other work
    (e.g. the export) may ``submit`` tasks to them."""
    key = (workers, str(reference_dir()))
    with _POOL_LOCK:
        pool = _pools.get(key)
        if pool is not None and pool.broken:
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        if pool is None:
            pool = _pools[key] = WorkerLanes(workers, key[1])
        return pool


def shutdown_pool() -> None:
    """Stop the pools' workers (at exit; or to give their memory back)."""
    with _POOL_LOCK:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_pool)


def chains(countries: Sequence[Sequence[str]]) -> list[list[int]]:
    """Groups of file positions linked by a shared country, each in file order."""
    parent = list(range(len(countries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for i, found in enumerate(countries):
        for country in found:
            if country in first_with:
                parent[root(i)] = root(first_with[country])
            else:
                first_with[country] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(countries)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def chain_groups(countries: Sequence[Sequence[str]], size: int) -> list[list[int]]:
    """Whole chains packed into groups of about ``size`` files (a longer chain is a group of its
    own), the longest chains first so that no worker is left with a long tail; each group's
    file positions in file order."""
    return _packed(sorted(chains(countries), key=len, reverse=True), size)


def _packed(chain_list: Sequence[Sequence[int]], size: int) -> list[list[int]]:
    """Chains packed in the order given into groups of about ``size`` files."""
    groups: list[list[int]] = []
    current: list[int] = []
    for chain in chain_list:
        if current and len(current) + len(chain) > size:
            groups.append(sorted(current))
            current = []
        current.extend(chain)
    if current:
        groups.append(sorted(current))
    return groups


def _pool_context() -> multiprocessing.context.BaseContext:
    # forkserver: workers fork from a clean server that has imported the validation stack (and
    # the caller's main script, which workers re-import otherwise: it must guard its entry point
    # with ``if __name__ == "__main__"``) once; forking the caller itself is unsafe once DuckDB
    # and Arrow have started threads
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", "tipstats.checking", "schemas.template"])
        return context
    return multiprocessing.get_context("spawn")


def _start_worker(reference: str) -> None:
    # the forkserver keeps the environment it started with: use the caller's reference data
    os.environ[REFERENCE_ENV] = reference


# files a worker read, kept for the group that validates them: (batch, job index) -> parsed
_parsed_here: dict[int, ParsedFile] = {}
_parsed_batch = 0
_parsed_rows = 0
CACHE_MAX_ROWS = 2_000_000  # rows of parsed files a worker keeps between reading and checking


def _read_job(task: tuple[int, Job]) -> tuple[str | None, list[str]]:
    """Read one file in a worker: why it cannot be read (or None), and the countries it names.
    The parsed file stays here for ``_check_group``."""
    global _parsed_batch, _parsed_rows
    batch, job = task
    if batch != _parsed_batch:  # a new call: what the last one left is of no use
        _parsed_here.clear()
        _parsed_batch, _parsed_rows = batch, 0
    parsed, unreadable = read_file(job.path)
    if parsed is None:
        assert unreadable is not None
        return _problem(unreadable), []
    if _parsed_rows + len(parsed.frame) <= CACHE_MAX_ROWS:
        _parsed_here[job.index] = parsed
        _parsed_rows += len(parsed.frame)
    return None, countries_of(parsed.frame, load_codelists())


def _read_jobs(batch: int, jobs: list[Job]) -> list[tuple[str | None, list[str]]]:
    """``_read_job`` for each of ``jobs``, in one task."""
    return [_read_job((batch, job)) for job in jobs]


def _problem(unreadable: TipstatsError) -> str:
    # the exception travels as its text and exit code: what ``Checked`` keeps of it
    return f"{unreadable.exit_code}\t{unreadable}"


_reads_again = 0  # files a worker read again to check them (another worker had read them)


def _count_reads_again(reset: bool = False) -> int:
    """How many files this worker read twice (for tests and benchmarks); ``reset``: from 0."""
    global _reads_again
    if reset:
        _reads_again = 0
    return _reads_again


def _reread(job: Job, countries: list[str]) -> tuple[ParsedFile | None, Checked | None]:
    """The parsed file for ``job``: kept from reading it here, or read again (another worker
    read it). A file that reads differently now was changed while being submitted."""
    global _parsed_rows, _reads_again
    parsed = _parsed_here.pop(job.index, None)
    if parsed is not None:
        _parsed_rows -= len(parsed.frame)
        return parsed, None
    _reads_again += 1
    parsed, unreadable = read_file(job.path)
    if parsed is not None and countries_of(parsed.frame, load_codelists()) == countries:
        return parsed, None
    reason = f"{job.path.name}: the file changed while it was being submitted; submit it again"
    return None, Checked(job.index, job.submission_id, countries, problem=reason)


def _check_group(
    batch: int,
    links: list[tuple[Job, str | None, list[str]]],
    history: pd.DataFrame,
    reports_dir: Path,
) -> _Packed:
    """``_checked_group`` in a worker, packed for the way back."""
    return _Packed.of(_checked_group(batch, links, history, reports_dir))


def _checked_group(
    batch: int,
    links: list[tuple[Job, str | None, list[str]]],
    history: pd.DataFrame,
    reports_dir: Path,
) -> list[Checked]:
    """Validate a group of whole chains in one pass and write each file's report."""
    global _parsed_batch, _parsed_rows
    codelists = load_codelists()
    if batch != _parsed_batch:  # this worker read none of the call's files
        _parsed_here.clear()
        _parsed_batch, _parsed_rows = batch, 0
    ready: dict[int, Checked] = {}
    readable: list[tuple[Job, ParsedFile, list[str]]] = []
    for job, problem, countries in links:
        if problem is not None:
            code, text = problem.split("\t", 1)
            ready[job.index] = Checked(
                job.index, job.submission_id, countries, problem=text, problem_exit_code=int(code)
            )
            continue
        parsed, changed = _reread(job, countries)
        if changed is not None:
            ready[job.index] = changed
        else:
            assert parsed is not None
            readable.append((job, parsed, countries))
    outcomes = validation_batch.validate_batch(
        [parsed for _, parsed, _ in readable],
        codelists,
        history,
        countries=[countries for _, _, countries in readable],
    )
    for (job, _, countries), outcome in zip(readable, outcomes, strict=True):
        if isinstance(outcome, Exception):
            ready[job.index] = failed(job, countries, outcome)
            continue
        stem = f"{job.submission_id:06d}_{report_stem(job.path.name)}"
        paths = write_report(outcome, reports_dir, job.path.name, stem=stem)
        ready[job.index] = Checked(
            job.index, job.submission_id, countries, report=outcome, paths=paths
        )
    return [ready[job.index] for job, _, _ in links]


@dataclass
class _Packed:
    """A group's results as they travel back to the caller: the observations of all its files
    in one frame and the usual empty report table left out. Unpickling hundreds of small frames
    cost the caller ~1.4 ms a file (holding the GIL its storing thread waits for); one frame and
    a slice per file cost a fraction of that."""

    checked: list[Checked]
    observations: pd.DataFrame | None  # the files' observations, stacked in order
    lengths: list[int | None]  # each file's rows in it; None: kept in its own report
    empty_tables: list[bool]  # the report table was the empty report

    @classmethod
    def of(cls, checked: list[Checked]) -> _Packed:
        frames = [None if c.report is None else c.report.observations for c in checked]
        shown = [f for f in frames if f is not None]
        stack = bool(shown) and all(_same_shape(f, shown[0]) for f in shown)
        empty = [c.report is not None and _is_empty_report(c.report.table) for c in checked]
        lean = [
            c
            if c.report is None
            else replace(
                c,
                report=replace(
                    c.report,
                    table=None if blank else c.report.table,
                    observations=None if stack else c.report.observations,
                ),
            )
            for c, blank in zip(checked, empty, strict=True)
        ]
        return cls(
            checked=lean,
            observations=pd.concat(shown, ignore_index=True) if stack else None,
            lengths=[None if f is None or not stack else len(f) for f in frames],
            empty_tables=empty,
        )

    def unpack(self) -> list[Checked]:
        done = []
        start = 0
        for c, length, blank in zip(self.checked, self.lengths, self.empty_tables, strict=True):
            if c.report is None:
                done.append(c)
                continue
            report = c.report
            if length is not None:
                assert self.observations is not None
                rows = self.observations.iloc[start : start + length].reset_index(drop=True)
                report = replace(report, observations=rows)
                start += length
            if blank:
                report = replace(report, table=_EMPTY_REPORT.copy(deep=False))
            done.append(replace(c, report=report))
        return done


_EMPTY_REPORT = empty_report()


def _same_shape(frame: pd.DataFrame, other: pd.DataFrame) -> bool:
    return (
        list(frame.columns) == list(other.columns)
        and frame.dtypes.equals(other.dtypes)
        and isinstance(frame.index, pd.RangeIndex)
        and frame.index.start == 0
        and frame.index.step == 1
    )


def _is_empty_report(table: pd.DataFrame) -> bool:
    return table.empty and _same_shape(table, _EMPTY_REPORT) and len(table.index) == 0
