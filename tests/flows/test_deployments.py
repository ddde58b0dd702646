from __future__ import annotations

from datetime import timedelta

from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

from flows.deployments import load_specs, runner_deployments


def test_prefect_yaml_declares_a_daily_pipeline_and_a_frequent_inbox_watch():
    specs = {spec.name: spec for spec in load_specs()}
    assert specs["daily-pipeline"].entrypoint == "flows/pipeline.py:pipeline"
    assert specs["daily-pipeline"].crons == ("0 5 * * *",)
    assert specs["inbox-watch"].entrypoint == "flows/ingest_inbox.py:ingest_inbox"
    assert specs["inbox-watch"].intervals == (timedelta(minutes=10),)


def test_the_deployments_load_with_their_flows_and_schedules(home):
    deployments = {d.name: d for d in runner_deployments(home)}

    pipeline = deployments["daily-pipeline"]
    assert pipeline.flow_name == "pipeline"
    (daily,) = pipeline.schedules
    assert isinstance(daily.schedule, CronSchedule) and daily.schedule.cron == "0 5 * * *"
    assert pipeline.parameters["home"] == str(home.root)

    watch = deployments["inbox-watch"]
    assert watch.flow_name == "ingest_inbox"
    (frequent,) = watch.schedules
    assert isinstance(frequent.schedule, IntervalSchedule)
    assert frequent.schedule.interval == timedelta(minutes=10)
