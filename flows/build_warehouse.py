"""Flow ``build_warehouse``: run the SQL models and their tests (write-audit-publish)."""

from __future__ import annotations

from prefect import flow, task

from flows import progress
from tipstats.home import resolve_home
from tipstats.pipeline_steps import (
    BuildSummary,
    build_marts,
    marts_present,
    warehouse_fingerprint,
)


def _same_warehouse_state(context, parameters) -> str:
    return f"build-{parameters['fingerprint']}"


@task(retries=1, retry_delay_seconds=5, cache_key_fn=_same_warehouse_state, persist_result=True)
def run_models(home_root: str, fingerprint: str) -> BuildSummary:
    # Cached on the warehouse fingerprint (home, submissions, models, reference data): a rerun
    # with nothing new skips the rebuild entirely.
    return build_marts(resolve_home(home_root))


@flow(name="build_warehouse", log_prints=False)
def build_warehouse(home: str | None = None) -> BuildSummary:
    """Rebuild the marts from the current observations; publish only if every SQL test passes."""
    tipstats_home = resolve_home(home)
    progress.emit("build", "start")
    fingerprint = warehouse_fingerprint(tipstats_home)
    models = run_models
    if not marts_present(tipstats_home):
        # the marts were deleted (or the home made anew at the same path) since the cached run
        models = run_models.with_options(refresh_cache=True)
    summary = models(str(tipstats_home.root), fingerprint)
    progress.emit("build", "done", models=summary.n_models)
    return summary
