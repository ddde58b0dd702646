"""The ``tipstats`` command line: thin commands over library calls.

Each sub-module registers its commands on ``app``; expected problems are printed as one line.
"""

from __future__ import annotations

from tipstats.cli.app import app, main

# Registration by import: each module adds its commands to ``app``.
from tipstats.cli import (  # noqa: E402, F401  isort: skip
    codes,
    samples,
    ingest,
    warehouse,
    build,
    export,
    pipeline,
    mse,
)

__all__ = ["app", "main"]
