"""The runtime home: one folder that holds everything a run reads or writes.

Resolution order: an explicit ``--home`` argument, else ``TIPSTATS_HOME``, else ``./data``.
The environment is read when a Home is resolved, never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV_VAR = "TIPSTATS_HOME"
RUNTIME_FOLDERS = ("inbox", "processed", "raw", "warehouse", "exports", "reports")


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def processed(self) -> Path:
        """Where the inbox moves files once they are submitted (accepted/ or rejected/)."""
        return self.root / "processed"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def database(self) -> Path:
        """The DuckDB file: the single source of truth for every published figure."""
        return self.warehouse / "tipstats.duckdb"

    def ensure(self) -> Home:
        for name in RUNTIME_FOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        return self


def resolve_home(home: Path | str | None = None) -> Home:
    if home is not None:
        return Home(Path(home).expanduser().resolve())
    from_env = os.environ.get(HOME_ENV_VAR)
    if from_env:
        return Home(Path(from_env).expanduser().resolve())
    return Home((Path.cwd() / "data").resolve())


def project_root() -> Path:
    """The checkout this package is installed from (editable install): holds data/reference."""
    return Path(__file__).resolve().parents[2]


def reference_dir() -> Path:
    override = os.environ.get("TIPSTATS_REFERENCE_DIR")
    return Path(override) if override else project_root() / "data" / "reference"


def samples_dir() -> Path:
    return project_root() / "data" / "samples"
