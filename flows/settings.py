"""Prefect settings for tipstats runs: local, quiet, no telemetry.

Prefect reads its settings when it is first imported, so ``configure_prefect`` must run before
any ``import prefect`` (the CLI and the test conftest call it first). Values already set in the
environment win: an analyst who points ``PREFECT_API_URL`` at a real server keeps it.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tipstats.home import Home

if TYPE_CHECKING:
    from flows.temporary_server import TemporaryServer

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


class HeldRunErrors(logging.Filter):
    """Holds back Prefect's error records about flow and task runs while the CLI shows a run.

    The CLI reports an expected failure (a failed SQL test, no marts) as one plain line; Prefect
    would print the same failure again with a traceback. Held records are replayed when the
    failure turns out to be a bug, where the traceback is what a developer needs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.name.startswith(RUN_LOGGERS):
            self.held.append(record)
            return False
        return True


RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
RUN_MODULES = (
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.utilities.visualization",
    "fastapi.encoders",
)
DRAIN_SECONDS = 10  # at most, to send the run's last events and logs before the server stops


@contextmanager
def local_run_settings(server: TemporaryServer | None = None) -> Iterator[None]:
    """Settings for a run on a temporary local server (Prefect names no API URL).

    The run is pointed at ``server``, the temporary server tipstats started before importing
    Prefect (``flows.temporary_server``); without one, Prefect starts its own as it needs it.
    Either way it is the same local API with its database in ``PREFECT_HOME``. On leaving, the
    run's queued events and logs are sent before ``server`` stops: the server records task runs
    from those events.

    Flow-run heartbeats are off: they let a long-lived server notice a crashed flow run, but a
    temporary server ends with the run it serves, and stopping each heartbeat thread costs up
    to a second per flow run (four per pipeline). Prefect accepts no "off" from the environment
    (the setting must be at least 30 s), so the run gets a settings context of its own. Against
    a real server (an API URL in the environment, a profile or ``prefect.toml``), nothing
    changes and ``server`` stops unused.
    """
    from prefect.context import SettingsContext

    context = SettingsContext.get()
    if server is not None and (
        context is None or context.settings.api.url or not context.settings.server.ephemeral.enabled
    ):
        # An analyst's server, or ephemeral mode switched off: Prefect's choice, not ours.
        server.stop()
        server = None
    if context is None or context.settings.api.url:
        yield
        return
    settings = context.settings
    update: dict[str, object] = {
        "flows": settings.flows.model_copy(update={"heartbeat_frequency": None})
    }
    if server is not None:
        _import_run_modules()
        server.wait_until_ready()
        update["api"] = settings.api.model_copy(update={"url": server.api_url})
        # Round trips the run's own server makes pointless: it runs this very Prefect
        # installation, so its version needs no check (Prefect's setting for a known-compatible
        # server), and it reads the same settings, so with its CSRF protection off (Prefect's
        # default) each client would only ask for a token to be told there is none.
        client = {"server_version_check_enabled": False}
        if not settings.server.api.csrf_protection_enabled:
            client["csrf_support_enabled"] = False
        update["client"] = settings.client.model_copy(update=client)
    try:
        with SettingsContext(profile=context.profile, settings=settings.model_copy(update=update)):
            yield
    finally:
        if server is not None:
            try:
                _send_queued_events_and_logs()  # a failed run's states too
            finally:
                server.stop()


def _import_run_modules() -> None:
    # Modules Prefect imports only when the first flow runs: imported while the temporary server
    # is still starting on the other core, they cost the run no time.
    for name in RUN_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # another Prefect version: then it loads what it needs itself
            continue


def _send_queued_events_and_logs() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=DRAIN_SECONDS)
    APILogWorker.drain_all(timeout=DRAIN_SECONDS)


@contextmanager
def held_run_errors() -> Iterator[HeldRunErrors]:
    """Hold Prefect's run error records on the console handlers for the duration."""
    holder = HeldRunErrors()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(holder)
    try:
        yield holder
    finally:
        for handler in handlers:
            handler.removeFilter(holder)


def replay(holder: HeldRunErrors) -> None:
    for record in holder.held:
        logging.getLogger(record.name).handle(record)
