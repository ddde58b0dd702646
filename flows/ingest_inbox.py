"""Flow ``ingest_inbox``: submit every new file in the inbox, each in its own task.

A bad file never stops the others: a rejected file is a normal outcome (its report is published
as an artifact), and a task that fails outright is recorded as such while the rest go on.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows import progress
from tipstats import inbox
from tipstats.home import resolve_home
from tipstats.ingest_summary import (
    FileOutcome,
    IngestSummary,
    outcome_from_result,
    report_table_rows,
    summarize_ingest,
    summary_markdown,
)
from tipstats.warehouse import submit

ARTIFACT_ROW_LIMIT = 500


@task(
    retries=2,
    retry_delay_seconds=2,
    cache_policy=NO_CACHE,
    persist_result=False,
    task_run_name="submit {path.name}",
)
def submit_file(path: Path, home_root: str) -> FileOutcome:
    # Retried only for IO trouble (a busy warehouse, a file system hiccup): a rejected file is a
    # normal return value, not an exception. A retry after a load that did land is harmless:
    # the warehouse recognises the file by its hash. The file-hash check in the warehouse is
    # also what makes a rerun over the same files a no-op.
    tipstats_home = resolve_home(home_root)
    outcome = outcome_from_result(path, submit(path, tipstats_home))
    create_table_artifact(
        table=report_table_rows(outcome, limit=ARTIFACT_ROW_LIMIT),
        key=outcome.artifact_key(),
        description=f"Validation report for {outcome.file_name}: {outcome.status}",
    )
    inbox.archive(path, tipstats_home, outcome.archive_folder)
    return outcome


@flow(name="ingest_inbox", log_prints=False)
def ingest_inbox(home: str | None = None) -> IngestSummary:
    """Validate and load every file waiting in the inbox; move each out once submitted."""
    tipstats_home = resolve_home(home).ensure()
    files = inbox.pending_files(tipstats_home)
    progress.emit("ingest", "start", total=len(files))
    outcomes: list[FileOutcome] = []
    for path in files:
        state = submit_file(path, str(tipstats_home.root), return_state=True)
        if state.is_completed():
            outcome = state.result()
        else:
            # The file stays in the inbox, so the next run tries it again.
            outcome = FileOutcome.failed(path, str(state.message or "the submit task failed"))
        outcomes.append(outcome)
        progress.emit(
            "ingest", "file_done", file=path.name, status=outcome.status, cells=outcome.n_cells
        )
    summary = summarize_ingest(outcomes)
    create_markdown_artifact(
        markdown=summary_markdown(summary),
        key="ingest-summary",
        description="Files accepted and rejected in this run",
    )
    progress.emit("ingest", "done", accepted=summary.accepted, rejected=summary.rejected)
    return summary
