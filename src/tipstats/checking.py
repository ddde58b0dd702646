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
cost.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

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
    if C.COUNTRY not in frame.columns:
        return []
    texts = pd.Series(frame[C.COUNTRY].dropna().unique(), dtype="string")
    codes = codelists.country_iso3_many(texts)
    return sorted({str(c) for c in codes.dropna()})


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
    jobs: Sequence[Job], history: HistorySource, reports_dir: Path, workers: int
) -> Iterator[Checked]:
    """Check the files in ``workers`` processes; yield them in the order of ``jobs``.

    Reading runs first (it tells which countries each file names); ``history`` is asked once,
    for every country of the batch, before any file is loaded.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_pool_context(),
        initializer=_start_worker,
        initargs=(str(reference_dir()),),
    )
    try:
        chunk = max(1, min(32, len(jobs) // (4 * workers)))
        reads = list(pool.map(_read_job, jobs, chunksize=chunk))
        countries = [r[2] for r in reads]
        wanted = sorted({c for found in countries for c in found})
        known = canonical_types(history(wanted)) if wanted else history([])
        futures: dict[int, Future[list[Checked]]] = {}
        # a few tasks per worker: enough to balance them, few enough that each is one pass
        size = min(GROUP_MAX_FILES, max(1, math.ceil(len(jobs) / (4 * workers))))
        for group in chain_groups(countries, size):
            links = [(jobs[i], *reads[i]) for i in group]
            group_countries = sorted({c for i in group for c in countries[i]})
            future = pool.submit(
                _check_group, links, history_of(known, group_countries), reports_dir
            )
            for i in group:
                futures[i] = future
        done: dict[int, Checked] = {}
        for i, job in enumerate(jobs):
            if job.index not in done:
                done.update((c.index, c) for c in futures[i].result())
            yield done.pop(job.index)
    finally:  # the caller stopped early (an error, an interrupt): drop the chains not started
        pool.shutdown(wait=True, cancel_futures=True)


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
    groups: list[list[int]] = []
    current: list[int] = []
    for chain in sorted(chains(countries), key=len, reverse=True):
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


def _read_job(job: Job) -> tuple[ParsedFile | None, TipstatsError | None, list[str]]:
    parsed, unreadable = read_file(job.path)
    if parsed is None:
        return None, unreadable, []
    return parsed, unreadable, countries_of(parsed.frame, load_codelists())


def _check_group(
    links: list[tuple[Job, ParsedFile | None, TipstatsError | None, list[str]]],
    history: pd.DataFrame,
    reports_dir: Path,
) -> list[Checked]:
    """Validate a group of whole chains in one pass and write each file's report."""
    codelists = load_codelists()
    readable = [link for link in links if link[1] is not None]
    outcomes = validation_batch.validate_batch(
        [parsed for _, parsed, _, _ in readable],
        codelists,
        history,
        countries=[countries for _, _, _, countries in readable],
    )
    outcome_of = {job.index: outcome for (job, *_), outcome in zip(readable, outcomes, strict=True)}
    done: list[Checked] = []
    for job, parsed, unreadable, countries in links:
        if parsed is None:
            never_asked = lambda: history  # noqa: E731  an unreadable file has no history
            done.append(
                checked_file(job, None, unreadable, countries, never_asked, reports_dir, codelists)
            )
            continue
        outcome = outcome_of[job.index]
        if isinstance(outcome, Exception):
            done.append(failed(job, countries, outcome))
            continue
        stem = f"{job.submission_id:06d}_{report_stem(job.path.name)}"
        paths = write_report(outcome, reports_dir, job.path.name, stem=stem)
        done.append(Checked(job.index, job.submission_id, countries, report=outcome, paths=paths))
    return done
