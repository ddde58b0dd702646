"""IO: the inbox of a runtime home — which files wait, and where they go once submitted."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from tipstats.home import Home

# Files a submission can be; anything else in the inbox is still picked up and rejected with a
# clear report, except hidden and partial files that an upload may still be writing.
IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload")


def pending_files(home: Home) -> list[Path]:
    """Files waiting in the inbox, oldest first (ties broken by name, so runs are repeatable)."""
    if not home.inbox.is_dir():
        return []
    candidates = [
        path
        for path in home.inbox.iterdir()
        if path.is_file()
        and not path.name.startswith(IGNORED_PREFIXES)
        and not path.name.endswith(IGNORED_SUFFIXES)
    ]
    return sorted(candidates, key=lambda path: (path.stat().st_mtime, path.name))


def archive(path: Path, home: Home, outcome: str) -> Path:
    """Move a submitted file out of the inbox into ``processed/<outcome>/``.

    The raw copy that the warehouse keeps (content-addressed) is the record; this move only keeps
    the inbox for new work. A name clash gets a timestamp suffix, so nothing is overwritten.
    """
    target_dir = home.processed / outcome
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    if target.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = target_dir / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    return target


def fill_inbox(files: list[Path], home: Home) -> list[Path]:
    """Copy files into the inbox (the demo and tests use this to simulate NSO uploads)."""
    home.inbox.mkdir(parents=True, exist_ok=True)
    copied = []
    for source in files:
        target = home.inbox / source.name
        shutil.copy2(source, target)
        copied.append(target)
    return copied
