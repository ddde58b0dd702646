from __future__ import annotations

from pathlib import Path

import pytest

from tipstats.errors import UsageError
from tipstats.ingest_summary import FileOutcome, batch_table_rows, batches


def test_batches_keep_the_order_and_cover_every_file_once():
    files = [Path(f"f{i}.csv") for i in range(7)]
    groups = batches(files, 3)
    assert [len(g) for g in groups] == [3, 3, 1]
    assert [p for g in groups for p in g] == files


def test_a_batch_size_below_one_is_a_usage_error():
    with pytest.raises(UsageError, match="at least 1"):
        batches([Path("a.csv")], 0)


def test_the_batch_table_points_to_the_report_or_says_why_there_is_none():
    outcomes = [
        FileOutcome("a.csv", "accepted", 1, "CAN", 10, 9, 0, 1, report_path="r/a.csv"),
        FileOutcome.failed(Path("b.csv"), "disk unplugged"),
    ]
    rows = batch_table_rows(outcomes)
    assert rows[0]["report"] == "r/a.csv" and rows[0]["warnings"] == 1
    assert rows[1]["status"] == "failed" and rows[1]["report"] == "disk unplugged"
