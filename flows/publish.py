"""Flow ``publish``: write the Global Report exports, with disclosure control on the way out."""

from __future__ import annotations

from prefect import flow, task
from tipstats.pipeline_steps import ExportSummary, export_tables, warehouse_fingerprint

from flows import progress
from tipstats.home import resolve_home


def _same_state_and_threshold(context, parameters) -> str:
    return f"{parameters['fingerprint']}:{parameters['threshold']}"


@task(retries=1, retry_delay_seconds=5, cache_key_fn=_same_state_and_threshold)
def write_exports(home_root: str, fingerprint: str, threshold: int) -> ExportSummary:
    return export_tables(resolve_home(home_root), threshold=threshold)


@flow(name="publish", log_prints=False)
def publish(home: str | None = None, threshold: int = 5) -> ExportSummary:
    """Export report tables, SDMX-CSV, charts, country profiles and a manifest."""
    tipstats_home = resolve_home(home)
    progress.emit("publish", "start")
    summary = write_exports(
        str(tipstats_home.root), warehouse_fingerprint(tipstats_home), threshold
    )
    progress.emit("publish", "done", folder=summary.folder)
    return summary
