"""Flow ``publish``: write the Global Report exports, with disclosure control on the way out."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task

from flows import progress
from tipstats.home import resolve_home
from tipstats.pipeline_steps import ExportSummary, export_tables, warehouse_fingerprint


def _same_state_and_threshold(context, parameters) -> str:
    return f"export-{parameters['fingerprint']}-{parameters['threshold']}"


@task(retries=1, retry_delay_seconds=5, cache_key_fn=_same_state_and_threshold, persist_result=True)
def write_exports(home_root: str, fingerprint: str, threshold: int) -> ExportSummary:
    return export_tables(resolve_home(home_root), threshold=threshold)


@flow(name="publish", log_prints=False)
def publish(home: str | None = None, threshold: int = 5) -> ExportSummary:
    """Export report tables, SDMX-CSV, charts, country profiles and a manifest."""
    tipstats_home = resolve_home(home)
    progress.emit("publish", "start")
    fingerprint = warehouse_fingerprint(tipstats_home)
    summary = write_exports(str(tipstats_home.root), fingerprint, threshold)
    if not Path(summary.folder).is_dir():
        # The cached run's folder was deleted since: write it again rather than point at nothing.
        summary = write_exports.with_options(refresh_cache=True)(
            str(tipstats_home.root), fingerprint, threshold
        )
    progress.emit("publish", "done", folder=summary.folder)
    return summary
