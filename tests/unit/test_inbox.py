from __future__ import annotations

import os

from tipstats.home import resolve_home
from tipstats.inbox import archive, fill_inbox, pending_files


def test_pending_files_skips_hidden_and_partial_uploads_and_sorts_by_age(tmp_path):
    home = resolve_home(tmp_path).ensure()
    for name in ["b.csv", "a.csv", ".hidden.csv", "upload.csv.part", "~$lock.xlsx"]:
        (home.inbox / name).write_text("x")
    os.utime(home.inbox / "b.csv", (1_000, 1_000))
    os.utime(home.inbox / "a.csv", (2_000, 2_000))
    assert [p.name for p in pending_files(home)] == ["b.csv", "a.csv"]


def test_archive_never_overwrites_an_earlier_file_of_the_same_name(tmp_path):
    home = resolve_home(tmp_path).ensure()
    first = home.inbox / "NLD_2020.csv"
    first.write_text("first")
    moved_first = archive(first, home, "accepted")
    second = home.inbox / "NLD_2020.csv"
    second.write_text("second")
    moved_second = archive(second, home, "accepted")
    assert moved_first != moved_second
    assert moved_first.read_text() == "first"
    assert moved_second.read_text() == "second"
    assert pending_files(home) == []


def test_fill_inbox_copies_and_leaves_sources(tmp_path):
    source = tmp_path / "src.csv"
    source.write_text("data")
    home = resolve_home(tmp_path / "home")
    copied = fill_inbox([source], home)
    assert copied[0].read_text() == "data" and source.exists()


def test_home_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPSTATS_HOME", str(tmp_path / "from_env"))
    assert resolve_home(tmp_path / "explicit").root == (tmp_path / "explicit").resolve()
    assert resolve_home(None).root == (tmp_path / "from_env").resolve()
    monkeypatch.delenv("TIPSTATS_HOME")
    monkeypatch.chdir(tmp_path)
    assert resolve_home(None).root == (tmp_path / "data").resolve()
