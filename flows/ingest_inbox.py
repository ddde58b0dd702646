"""Flow ``ingest_inbox``: submit every new file in the inbox, in batches of files.

Each batch is one task: ``warehouse.submit_many`` validates the batch's files in worker
processes and loads each accepted one, so the files get exactly what one-by-one ``submit``
would give them, at a fraction of the cost per file (one Prefect task and one artifact per file
cost more than validating a small file). A bad file never stops the others: a rejected file is a
normal outcome, listed in its batch's table artifact with its report, and given an artifact of
its own. If a batch task fails outright (after its IO retries), its files still in the inbox are
submitted one task per file, so that only the file at fault is left for the next run.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows import progress
from tipstats import inbox
from tipstats.home import Home, resolve_home
from tipstats.ingest_summary import (
    FileOutcome,
    IngestSummary,
    batch_table_rows,
    batches,
    outcome_from_result,
    report_table_rows,
    summarize_ingest,
    summary_markdown,
)
from tipstats.warehouse import SubmissionResult, submit, submit_many

ARTIFACT_ROW_LIMIT = 500
BATCH_FILES = 1000  # files per task: each call pays fixed costs (two validation passes, opening
# and checkpointing DuckDB); 1,000 beat 250 by ~10 % CPU at world size (bench/notes_ingest.md)


@task(
    retries=2,
    retry_delay_seconds=2,
    cache_policy=NO_CACHE,
    persist_result=False,
    task_run_name="submit {label}",
)
def submit_batch(paths: list[Path], home_root: str, label: str) -> list[FileOutcome]:
    # Retried only for IO trouble (a busy warehouse, a file system hiccup): rejected files are
    # normal return values. Files are archived only once the whole batch is stored, so a retry
    # sees them all again; those that did land come back as "already received" (same sha256),
    # which is also what makes a rerun over the same files a no-op.
    tipstats_home = resolve_home(home_root)
    results = submit_many(paths, tipstats_home, on_result=_report_progress)
    outcomes = [outcome_from_result(p, r) for p, r in zip(paths, results, strict=True)]
    create_table_artifact(
        table=batch_table_rows(outcomes),
        description=f"Files of {label}: status, counts and validation report",
    )
    for outcome in outcomes:
        if outcome.status == "rejected":
            _publish_report(outcome)
    for path, outcome in zip(paths, outcomes, strict=True):
        inbox.archive(path, tipstats_home, outcome.archive_folder)
    return outcomes


@task(
    retries=2,
    retry_delay_seconds=2,
    cache_policy=NO_CACHE,
    persist_result=False,
    task_run_name="submit {path.name}",
)
def submit_file(path: Path, home_root: str) -> FileOutcome:
    # The fallback for the files of a batch that failed: one task each, so the file at fault
    # is the only one left in the inbox.
    tipstats_home = resolve_home(home_root)
    outcome = outcome_from_result(path, submit(path, tipstats_home))
    _publish_report(outcome)
    inbox.archive(path, tipstats_home, outcome.archive_folder)
    _report_progress_of(outcome)
    return outcome


@flow(name="ingest_inbox", log_prints=False)
def ingest_inbox(home: str | None = None, batch_size: int = BATCH_FILES) -> IngestSummary:
    """Validate and load every file waiting in the inbox; move each out once submitted."""
    tipstats_home = resolve_home(home).ensure()
    files = inbox.pending_files(tipstats_home)
    progress.emit("ingest", "start", total=len(files))
    outcomes: list[FileOutcome] = []
    for number, batch in enumerate(batches(files, batch_size), start=1):
        label = f"batch {number} ({len(batch)} files, {batch[0].name} ...)"
        state = submit_batch(batch, str(tipstats_home.root), label, return_state=True)
        if state.is_completed():
            outcomes.extend(state.result())
        else:
            outcomes.extend(_one_by_one(batch, tipstats_home))
    summary = summarize_ingest(outcomes)
    create_markdown_artifact(
        markdown=summary_markdown(summary),
        key="ingest-summary",
        description="Files accepted and rejected in this run",
    )
    progress.emit("ingest", "done", accepted=summary.accepted, rejected=summary.rejected)
    return summary


def _one_by_one(batch: list[Path], tipstats_home: Home) -> list[FileOutcome]:
    outcomes = []
    for path in batch:
        if not path.exists():  # archived by the failed batch before it broke: already stored
            continue
        state = submit_file(path, str(tipstats_home.root), return_state=True)
        if state.is_completed():
            outcomes.append(state.result())
        else:
            # The file stays in the inbox, so the next run tries it again.
            outcome = FileOutcome.failed(path, str(state.message or "the submit task failed"))
            outcomes.append(outcome)
            _report_progress_of(outcome)
    return outcomes


def _publish_report(outcome: FileOutcome) -> None:
    create_table_artifact(
        table=report_table_rows(outcome, limit=ARTIFACT_ROW_LIMIT),
        key=outcome.artifact_key(),
        description=f"Validation report for {outcome.file_name}: {outcome.status}",
    )


def _report_progress(result: SubmissionResult) -> None:
    cells = result.n_cells if result.status == "accepted" else 0
    progress.emit(
        "ingest", "file_done", file=result.original_name, status=result.status, cells=cells
    )


def _report_progress_of(outcome: FileOutcome) -> None:
    progress.emit(
        "ingest", "file_done", file=outcome.file_name, status=outcome.status, cells=outcome.n_cells
    )
