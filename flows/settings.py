"""Prefect settings for tipstats runs: local, quiet, no telemetry.

Prefect reads its settings when it is first imported, so ``configure_prefect`` must run before
any ``import prefect`` (the CLI and the test conftest call it first). Values already set in the
environment win: an analyst who points ``PREFECT_API_URL`` at a real server keeps it.
"""

from __future__ import annotations

import os

from tipstats.home import Home

QUIET_DEFAULTS = {
    # No telemetry, client or server side.
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    # Normal output is ours (rich); Prefect speaks up only for warnings and errors.
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    # A cold ephemeral server on a busy 2-core machine can take a while to migrate its database.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def configure_prefect(home: Home | None = None) -> None:
    """Set quiet, local defaults; keep Prefect's own database inside the tipstats home."""
    for name, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if home is not None and "PREFECT_API_URL" not in os.environ:
        os.environ.setdefault("PREFECT_HOME", str(home.root / ".prefect"))
