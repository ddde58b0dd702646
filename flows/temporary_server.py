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
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
    """Start the temporary server now, unless ``PREFECT_API_URL`` names a server to use (then
    check that it answers: a server that is down is an expected problem, not a traceback)."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        require_reachable(configured)
        return None
    return TemporaryServer.start()


def require_reachable(api_url: str, timeout: float = 10.0) -> None:
    """Raise a one-line error when nothing answers at ``api_url``.

    Any HTTP answer counts as reachable (a server that wants credentials still answers); only
    a refused connection, an unknown host or silence is a problem.
    """
    health = api_url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as problem:
        reason = getattr(problem, "reason", problem)
        raise TipstatsError(
            f"the Prefect server at PREFECT_API_URL={api_url} does not answer ({reason}); "
            "start it, or unset PREFECT_API_URL to run on a temporary local server"
        ) from None


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
