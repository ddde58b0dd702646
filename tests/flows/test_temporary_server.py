from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flows.temporary_server as temporary_server
from flows.temporary_server import TemporaryServer, start_unless_configured
from tipstats.errors import TipstatsError

# A stand-in for uvicorn: answers GET /api/health with 200 on the port it is given.
HEALTH_SERVER = """
import http.server, sys
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""


def test_prefects_server_command_is_uvicorn_on_the_local_port():
    command = temporary_server._command(8123)

    assert command[:3] == [sys.executable, "-m", "uvicorn"]
    assert "prefect.server.api.server:create_app" in command
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8123"
    assert "--factory" in command


def test_the_free_port_can_be_bound():
    port = temporary_server._free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


@pytest.fixture
def answering_port():
    """A local port where the stand-in answers (200 on /api/health, 404 elsewhere)."""
    port = temporary_server._free_port()
    process = subprocess.Popen([sys.executable, "-c", HEALTH_SERVER, str(port)])
    try:
        for _ in range(200):
            if temporary_server._healthy(port):
                break
            time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait()


def test_no_server_is_started_when_the_analyst_names_one(monkeypatch, answering_port):
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{answering_port}/api")
    monkeypatch.setattr(TemporaryServer, "start", lambda: pytest.fail("started a server"))

    assert start_unless_configured() is None


def test_a_named_server_that_answers_with_an_http_error_is_reachable(answering_port):
    # e.g. a server that wants credentials: it is there, Prefect's client takes it from here
    temporary_server.require_reachable(f"http://127.0.0.1:{answering_port}/elsewhere")


def test_a_named_server_that_does_not_answer_is_one_clear_error(monkeypatch):
    url = f"http://127.0.0.1:{temporary_server._free_port()}/api"  # nothing listens there
    monkeypatch.setenv("PREFECT_API_URL", url)
    monkeypatch.setattr(TemporaryServer, "start", lambda: pytest.fail("started a server"))

    with pytest.raises(TipstatsError, match="unset PREFECT_API_URL") as problem:
        start_unless_configured()
    assert url in str(problem.value)


@pytest.mark.parametrize("command", ["run", "serve"])
def test_the_cli_says_in_one_line_that_the_named_server_is_down(tmp_path, command):
    url = f"http://127.0.0.1:{temporary_server._free_port()}/api"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "tipstats"), command, "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PREFECT_API_URL": url},
        timeout=120,
    )

    assert result.returncode == 1
    assert "does not answer" in " ".join(result.stderr.split())  # rich wraps the line
    assert "Traceback" not in result.stderr + result.stdout


def test_the_server_is_ready_once_it_answers_its_health_check_and_stops(monkeypatch):
    monkeypatch.setattr(
        temporary_server, "_command", lambda port: [sys.executable, "-c", HEALTH_SERVER, str(port)]
    )
    server = TemporaryServer.start(timeout=30)
    try:
        server.wait_until_ready()
        assert server.ready
        assert temporary_server._healthy(server.port)
        assert server.api_url == f"http://127.0.0.1:{server.port}/api"
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert not temporary_server._healthy(server.port)


def test_a_server_that_dies_while_starting_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(
        temporary_server, "_command", lambda port: [sys.executable, "-c", "raise SystemExit(1)"]
    )
    server = TemporaryServer.start(timeout=30)

    with pytest.raises(TipstatsError, match="stopped while starting .exit code 1"):
        server.wait_until_ready()


def test_a_server_that_never_answers_is_stopped_after_the_timeout(monkeypatch):
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(temporary_server, "_command", lambda port: sleeper)
    server = TemporaryServer.start(timeout=0.5)

    with pytest.raises(TipstatsError, match="did not answer within"):
        server.wait_until_ready()
    assert server.process.poll() is not None


def test_a_port_taken_meanwhile_is_retried_on_another(monkeypatch):
    # uvicorn exits with 3 when its port is taken: the first child does, the second serves
    commands = iter(["raise SystemExit(3)", HEALTH_SERVER])
    monkeypatch.setattr(
        temporary_server,
        "_command",
        lambda port: [sys.executable, "-c", next(commands), str(port)],
    )
    server = TemporaryServer.start(timeout=30)
    try:
        server.wait_until_ready()
        assert server.ready
    finally:
        server.stop()
