from __future__ import annotations

import socket
import sqlite3
import sys

import pytest

import flows.temporary_server as temporary_server
from flows.temporary_server import TemporaryServer, idle_start_work, start_unless_configured
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


def test_no_server_is_started_when_the_analyst_names_one(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.setattr(TemporaryServer, "start", lambda: pytest.fail("started a server"))

    assert start_unless_configured() is None


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


def _prefect_database(path, revision: str, automations: int) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    connection.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    connection.execute("CREATE TABLE automation (id TEXT)")
    rows = [(str(number),) for number in range(automations)]
    connection.executemany("INSERT INTO automation VALUES (?)", rows)
    connection.commit()
    connection.close()


def test_the_latest_migration_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    versions = temporary_server._prefect_package() / "server/database/_migrations/versions/sqlite"
    config = Config()
    config.set_main_option("script_location", str(versions.parent.parent))
    config.set_main_option("version_locations", str(versions))

    assert temporary_server._latest_migration() == (
        ScriptDirectory.from_config(config).get_current_head()
    )


def test_a_current_database_without_automations_skips_migrations_and_triggers(tmp_path):
    _prefect_database(tmp_path / "prefect.db", temporary_server._latest_migration(), 0)

    settings = idle_start_work({"PREFECT_HOME": str(tmp_path)}, tmp_path)

    assert settings == {
        "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    }


def test_an_older_database_is_migrated_and_automations_keep_their_services(tmp_path):
    _prefect_database(tmp_path / "prefect.db", "0123456789ab", 2)

    assert idle_start_work({"PREFECT_HOME": str(tmp_path)}, tmp_path) == {}


def test_a_new_database_is_migrated_and_has_no_automations(tmp_path):
    settings = idle_start_work({"PREFECT_HOME": str(tmp_path)}, tmp_path)

    assert settings == {"PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false"}
    assert not (tmp_path / "prefect.db").exists()  # looked at, never made


def test_a_database_that_cannot_be_read_changes_nothing(tmp_path):
    (tmp_path / "prefect.db").write_bytes(b"not a database")

    assert idle_start_work({"PREFECT_HOME": str(tmp_path)}, tmp_path) == {}


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://db/prefect"),
        ("PREFECT_API_DATABASE_CONNECTION_URL", "sqlite+aiosqlite:////elsewhere.db"),
        ("PREFECT_PROFILE", "analyst"),
        ("PREFECT_PROFILES_PATH", "/etc/prefect/profiles.toml"),
    ],
)
def test_no_guess_when_the_environment_may_name_another_database(tmp_path, setting, value):
    _prefect_database(tmp_path / "prefect.db", temporary_server._latest_migration(), 0)

    assert idle_start_work({"PREFECT_HOME": str(tmp_path), setting: value}, tmp_path) == {}
    assert idle_start_work({}, tmp_path) == {}  # and none without PREFECT_HOME


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("home/profiles.toml", 'active = "x"\n'),
        ("cwd/prefect.toml", "[server]\n"),
        ("cwd/.env", "PREFECT_SERVER_DATABASE_CONNECTION_URL=x\n"),
        ("cwd/pyproject.toml", "[tool.prefect]\nhome = 'x'\n"),
    ],
)
def test_no_guess_when_a_settings_file_may_name_another_database(tmp_path, file, text):
    (tmp_path / "home").mkdir()
    (tmp_path / "cwd").mkdir()
    _prefect_database(tmp_path / "home" / "prefect.db", temporary_server._latest_migration(), 0)
    (tmp_path / file).write_text(text)

    assert idle_start_work({"PREFECT_HOME": str(tmp_path / "home")}, tmp_path / "cwd") == {}


def test_settings_the_analyst_exported_win_over_the_skips(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", "true")
    monkeypatch.setattr(
        temporary_server, "_command", lambda port: [sys.executable, "-c", "pass", str(port)]
    )
    server = TemporaryServer.start(timeout=5)
    server.stop()

    assert server.process_env["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] == "true"
    assert server.process_env["PREFECT__SERVER_EPHEMERAL"] == "1"
