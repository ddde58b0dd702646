from __future__ import annotations

import shutil

from prefect.artifacts import Artifact

from flows import progress
from flows.ingest_inbox import ingest_inbox
from tipstats import warehouse
from tipstats.inbox import fill_inbox


def _submissions(home):
    return warehouse.read_tables(home, ["submissions"])["submissions"]


def _current_cells(home):
    return warehouse.query(home, "select count(*) as n from current_observations")["n"].iloc[0]


def test_every_file_is_submitted_and_moved_out_of_the_inbox(home, sample_files):
    fill_inbox(list(sample_files.values()), home)

    summary = ingest_inbox(str(home.root))

    assert summary.accepted == 4
    assert summary.rejected == 2
    assert summary.failed == 0
    assert summary.cells_loaded == _current_cells(home) > 0
    assert list(home.inbox.iterdir()) == []
    assert len(list((home.processed / "accepted").iterdir())) == 4
    assert len(list((home.processed / "rejected").iterdir())) == 2
    assert sorted(_submissions(home)["status"]) == ["accepted"] * 4 + ["rejected"] * 2


def test_each_report_and_the_summary_are_published_as_artifacts(home, sample_files):
    rejected_name = next(name for name in sample_files if name.startswith("ZMB_2022_"))
    fill_inbox([sample_files[rejected_name]], home)

    summary = ingest_inbox(str(home.root))

    outcome = summary.outcomes[0]
    report = Artifact.get(outcome.artifact_key())
    assert report is not None and report.type == "table"
    assert outcome.n_errors > 0 and "rule_id" in str(report.data)
    overview = Artifact.get("ingest-summary")
    assert overview is not None and rejected_name in str(overview.data)


def test_a_rerun_over_the_same_files_changes_nothing(home, sample_files):
    good = [sample_files["CAN_2021.csv"], sample_files["ZAF_2021.csv"]]
    fill_inbox(good, home)
    ingest_inbox(str(home.root))
    before = _submissions(home)

    fill_inbox(good, home)
    summary = ingest_inbox(str(home.root))

    assert [o.status for o in summary.outcomes] == ["duplicate", "duplicate"]
    assert summary.cells_loaded == 0
    assert _submissions(home).equals(before)


def test_a_file_whose_task_fails_stays_in_the_inbox_and_the_others_go_on(
    home, sample_files, monkeypatch
):
    import flows.ingest_inbox as module

    real_submit = module.submit

    def failing_batch(paths, tipstats_home, **_):
        raise OSError("disk unplugged")

    def flaky_submit(path, tipstats_home):
        if path.name == "CAN_2021.csv":
            raise OSError("disk unplugged")
        return real_submit(path, tipstats_home)

    monkeypatch.setattr(module, "submit_many", failing_batch)
    monkeypatch.setattr(module, "submit", flaky_submit)
    monkeypatch.setattr(module.submit_batch, "retry_delay_seconds", 0)
    monkeypatch.setattr(module.submit_file, "retry_delay_seconds", 0)
    fill_inbox([sample_files["CAN_2021.csv"], sample_files["ZAF_2021.csv"]], home)

    summary = ingest_inbox(str(home.root))

    statuses = {o.file_name: o.status for o in summary.outcomes}
    assert statuses == {"CAN_2021.csv": "failed", "ZAF_2021.csv": "accepted"}
    assert [p.name for p in home.inbox.iterdir()] == ["CAN_2021.csv"]


def test_files_go_in_batches_and_each_file_gets_what_submit_alone_gives_it(home, sample_files):
    names = ["CAN_2021.csv", "CAN_2022.csv", "ZAF_2021.csv", "ZAF_2022.csv"]
    fill_inbox([sample_files[name] for name in names], home)
    events = []
    progress.watch(events.append)
    try:
        summary = ingest_inbox(str(home.root), batch_size=3)
    finally:
        progress.unwatch(events.append)

    assert [o.file_name for o in summary.outcomes] == names
    assert [o.submission_id for o in summary.outcomes] == [1, 2, 3, 4]
    assert summary.accepted == 4
    done = [e["file"] for e in events if e["event"] == "file_done"]
    assert sorted(done) == sorted(names)
    assert list(home.inbox.iterdir()) == []


def test_an_empty_inbox_is_a_quiet_no_op(home):
    shutil.rmtree(home.inbox)
    summary = ingest_inbox(str(home.root))
    assert summary.outcomes == ()
