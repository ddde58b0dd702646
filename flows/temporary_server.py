"""Prefect's temporary local API server, started by tipstats before it imports Prefect.

Without ``PREFECT_API_URL``, Prefect starts the same server itself when a flow first asks for a
client: it imports the whole server package into the calling process first (about 2 s of CPU,
only to build the command line), then waits for the child to import it again. Started here, the
child is the same program (``uvicorn ... prefect.server.api.server:create_app``, ephemeral, no
UI, same settings, same database in ``PREFECT_HOME``), but it imports Prefect while the CLI
imports its own modules, on the other core, and the CLI never imports the server package.

``flows.settings.local_run_settings`` points the run at this server only when Prefect's own
settings (environment, profile, ``prefect.toml``) name no API URL: an analyst's server wins,
and this one is then stopped unused.
"""

from __future__ import annotations

import atexit
import http.client
import importlib.util
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from tipstats.errors import TipstatsError

# The variables Prefect's own SubprocessASGIServer sets for its child: ephemeral mode (only the
# services a temporary server needs), no UI, the last app of its process.
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
POLL_SECONDS = 0.05
PORT_TAKEN_RETRIES = 3  # uvicorn exits with 3 when it cannot bind (the port was taken meanwhile)
UVICORN_STARTUP_FAILURE = 3
STOP_SECONDS = 5.0
DEFAULT_STARTUP_TIMEOUT = 120.0


class TemporaryServer:
    """One uvicorn child process serving Prefect's API on a free local port."""

    def __init__(
        self, process: subprocess.Popen[bytes], port: int, timeout: float, env: dict[str, str]
    ) -> None:
        self.process = process
        self.process_env = env
        self.port = port
        self.timeout = timeout
        self.ready = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @classmethod
    def start(cls, timeout: float | None = None) -> TemporaryServer:
        port = _free_port()
        env = {**os.environ, **SERVER_ENV}
        for name, value in idle_start_work(os.environ, Path.cwd()).items():
            env.setdefault(name, value)
        process = subprocess.Popen(_command(port), env=env)
        server = cls(process, port, _startup_timeout() if timeout is None else timeout, env)
        atexit.register(server.stop)  # also when the run fails before it reaches the server
        return server

    def wait_until_ready(self) -> None:
        """Block until the API answers its health check; a clear error if it never does."""
        if self.ready:
            return
        deadline = time.monotonic() + self.timeout
        retries = PORT_TAKEN_RETRIES
        while time.monotonic() < deadline:
            if self.process.poll() == UVICORN_STARTUP_FAILURE and retries > 0:
                # As Prefect does: another port (the same exit code also covers other start-up
                # failures, hence the bounded number of tries).
                retries -= 1
                self.port = _free_port()
                self.process = subprocess.Popen(_command(self.port), env=self.process_env)
                continue
            if self.process.poll() is not None:
                raise TipstatsError(
                    f"Prefect's temporary server stopped while starting (exit code "
                    f"{self.process.returncode}); its errors are printed above"
                )
            if _healthy(self.port):
                self.ready = True
                return
            time.sleep(POLL_SECONDS)
        self.stop()
        raise TipstatsError(
            f"Prefect's temporary server did not answer within {self.timeout:.0f} s "
            "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)"
        )

    def stop(self) -> None:
        """Stop the child as Prefect stops its own: SIGTERM, then SIGKILL after 5 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.ready = False


def start_unless_configured() -> TemporaryServer | None:
    """Start the temporary server now, unless ``PREFECT_API_URL`` names a server to use."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    return TemporaryServer.start()


def idle_start_work(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """Settings that spare the server start-up work with nothing to do in this database.

    Two things Prefect's server does at every start: check its migrations (importing alembic,
    reading the 100-odd migration scripts) and start the automation services (loading their
    state, starting their consumers), about 0.45 s of CPU together. When the database is at the
    installed Prefect's latest migration, there is nothing to migrate; when it holds no
    automation, there is nothing to trigger. Only judged when the database is surely Prefect's
    default one, ``$PREFECT_HOME/prefect.db``: no database or profile setting in the
    environment and no other settings file Prefect would read (profiles, ``prefect.toml``,
    ``.env``, ``[tool.prefect]``); otherwise, and for whatever cannot be read, nothing changes.
    """
    database = _default_database(environ, cwd)
    if database is None:
        return {}
    revision, automations = _database_state(database)
    settings = {}
    if revision is not None and revision == _latest_migration():
        settings["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] = "false"
    if automations == 0:
        settings["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] = "false"
    return settings


def _default_database(environ: Mapping[str, str], cwd: Path) -> Path | None:
    home = environ.get("PREFECT_HOME")
    if not home or any(
        "DATABASE" in name or name in {"PREFECT_PROFILE", "PREFECT_PROFILES_PATH"}
        for name in environ
        if name.startswith("PREFECT_")
    ):
        return None
    if (Path(home) / "profiles.toml").exists() or any(
        (cwd / name).exists() for name in ("prefect.toml", ".env")
    ):
        return None
    pyproject = cwd / "pyproject.toml"
    if pyproject.exists() and "tool.prefect" in pyproject.read_text(errors="replace"):
        return None
    return Path(home) / "prefect.db"


def _database_state(database: Path) -> tuple[str | None, int | None]:
    """The database's migration and its number of automations; 0 automations if none yet."""
    if not database.exists():
        return None, 0
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
        try:
            (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            (automations,) = connection.execute("SELECT count(*) FROM automation").fetchone()
        finally:
            connection.close()
    except (sqlite3.Error, TypeError, ValueError):  # locked, partly made, not Prefect's
        return None, None
    return str(revision), int(automations)


def _latest_migration() -> str | None:
    """The head of the installed Prefect's SQLite migrations (the one no other one follows)."""
    folder = _prefect_package() / "server" / "database" / "_migrations" / "versions" / "sqlite"
    revisions: set[str] = set()
    followed: set[str] = set()
    for script in folder.glob("*.py"):
        text = script.read_text(errors="replace")
        revisions.update(re.findall(r"^revision\s*=\s*[\"']([0-9a-f]+)[\"']", text, re.M))
        for line in re.findall(r"^down_revision\s*=\s*(.+)$", text, re.M):
            followed.update(re.findall(r"[\"']([0-9a-f]+)[\"']", line))
    heads = revisions - followed
    return heads.pop() if len(heads) == 1 else None


def _command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(_prefect_package().parent),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


def _prefect_package() -> Path:
    # Found without importing Prefect (importing it is what this module saves time on).
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        raise TipstatsError("Prefect is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations)))


def _free_port() -> int:
    # The kernel picks a port no one holds now; the child binds it a moment later.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/api/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _startup_timeout() -> float:
    value = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    try:
        return float(value) if value else DEFAULT_STARTUP_TIMEOUT
    except ValueError:
        return DEFAULT_STARTUP_TIMEOUT
