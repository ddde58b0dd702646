from __future__ import annotations

from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_CSRF_PROTECTION_ENABLED,
    PREFECT_SERVER_EPHEMERAL_ENABLED,
    get_current_settings,
    temporary_settings,
)

from flows.settings import local_run_settings


def test_flow_heartbeats_stay_on_against_a_real_server():
    # the test harness is a server with an API URL, like one an analyst configures
    assert get_current_settings().api.url
    with local_run_settings():
        assert get_current_settings().flows.heartbeat_frequency is not None


def test_flow_heartbeats_are_off_on_the_temporary_local_server():
    with temporary_settings(updates={PREFECT_API_URL: None}):
        assert not get_current_settings().api.url
        before = get_current_settings().flows.heartbeat_frequency
        with local_run_settings():
            assert get_current_settings().flows.heartbeat_frequency is None
        assert get_current_settings().flows.heartbeat_frequency == before


class FakeServer:
    """Stands in for flows.temporary_server.TemporaryServer: records what the run asks of it."""

    api_url = "http://127.0.0.1:9/api"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def wait_until_ready(self) -> None:
        self.calls.append("wait")

    def stop(self) -> None:
        self.calls.append("stop")


def test_a_run_without_an_api_url_goes_to_the_server_tipstats_started():
    server = FakeServer()
    with temporary_settings(updates={PREFECT_API_URL: None}):
        with local_run_settings(server):
            assert server.calls == ["wait"]
            assert get_current_settings().api.url == FakeServer.api_url
            assert get_current_settings().flows.heartbeat_frequency is None
            # the same installation and settings as the server: no version check, no CSRF token
            assert not get_current_settings().client.server_version_check_enabled
            assert not get_current_settings().client.csrf_support_enabled
        assert server.calls == ["wait", "stop"]
        assert not get_current_settings().api.url
        assert get_current_settings().client.server_version_check_enabled


def test_a_server_with_csrf_protection_gets_its_tokens():
    updates = {PREFECT_API_URL: None, PREFECT_SERVER_CSRF_PROTECTION_ENABLED: True}
    with temporary_settings(updates=updates), local_run_settings(FakeServer()):
        assert get_current_settings().client.csrf_support_enabled


def test_the_started_server_stops_even_when_the_run_fails():
    server = FakeServer()
    with temporary_settings(updates={PREFECT_API_URL: None}):
        try:
            with local_run_settings(server):
                raise ValueError("the run broke")
        except ValueError:
            pass
    assert server.calls == ["wait", "stop"]


def test_an_api_url_from_prefects_settings_wins_over_the_started_server():
    server = FakeServer()
    url = get_current_settings().api.url
    assert url  # the test harness, like a server an analyst names in a profile
    with local_run_settings(server):
        assert server.calls == ["stop"]  # never waited for, stopped unused
        assert get_current_settings().api.url == url


def test_with_ephemeral_mode_switched_off_the_started_server_is_not_used():
    server = FakeServer()
    updates = {PREFECT_API_URL: None, PREFECT_SERVER_EPHEMERAL_ENABLED: False}
    with temporary_settings(updates=updates), local_run_settings(server):
        assert server.calls == ["stop"]  # Prefect then refuses to run without an API URL
        assert not get_current_settings().api.url
