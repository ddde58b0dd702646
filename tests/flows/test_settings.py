from __future__ import annotations

from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

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
