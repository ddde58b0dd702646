from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import flows.build_warehouse as build_module
import flows.publish as publish_module
from flows.pipeline import pipeline
from tipstats.inbox import fill_inbox


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix in {".csv", ".parquet"}
    }


def test_the_whole_pipeline_runs_on_a_temporary_home(home, sample_files):
    fill_inbox(list(sample_files.values()), home)

    summary = pipeline(str(home.root), threshold=5)

    assert (summary.ingest.accepted, summary.ingest.rejected) == (4, 2)
    assert summary.build.n_models >= 5
    assert {"agg_totals", "agg_trends", "sdg_16_2_2"} <= set(summary.build.rows_by_model)
    folder = Path(summary.export.folder)
    assert folder.is_dir() and folder.parent == home.exports
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["threshold"] == 5
    assert "# Exports" in summary.markdown() and str(folder) in summary.markdown()


def test_a_rerun_with_nothing_new_skips_the_build_and_export_and_changes_nothing(
    home, sample_files, monkeypatch
):
    fill_inbox([sample_files["CAN_2021.csv"], sample_files["CAN_2022.csv"]], home)
    first = pipeline(str(home.root))
    exported = _digests(Path(first.export.folder))

    calls = []
    monkeypatch.setattr(build_module, "build_marts", lambda h: calls.append("build"))
    monkeypatch.setattr(publish_module, "export_tables", lambda h, threshold: calls.append("x"))
    second = pipeline(str(home.root))

    assert calls == []  # both steps came from Prefect's cache
    assert second.build == first.build and second.export == first.export
    assert _digests(Path(second.export.folder)) == exported


def test_a_deleted_export_folder_is_written_again_on_the_next_run(home, sample_files):
    fill_inbox([sample_files["CAN_2021.csv"]], home)
    first = pipeline(str(home.root))
    exported = _digests(Path(first.export.folder))
    shutil.rmtree(first.export.folder)

    second = pipeline(str(home.root))

    assert Path(second.export.folder).is_dir()
    assert _digests(Path(second.export.folder)) == exported


def test_a_fresh_home_with_an_empty_inbox_runs_to_empty_exports(home):
    summary = pipeline(str(home.root))

    assert summary.ingest.outcomes == ()
    assert summary.build.rows_by_model["agg_totals"] == 0
    assert (Path(summary.export.folder) / "manifest.json").is_file()


def test_a_home_made_anew_at_the_same_path_is_built_again_not_taken_from_the_cache(home):
    pipeline(str(home.root))
    shutil.rmtree(home.root)
    home.ensure()

    summary = pipeline(str(home.root))

    assert summary.build.rows_by_model["agg_totals"] == 0
    assert home.database.exists()
    assert (Path(summary.export.folder) / "manifest.json").is_file()
