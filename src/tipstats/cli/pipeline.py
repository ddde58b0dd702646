"""CLI commands: pipeline (filled in by its issue)."""

from __future__ import annotations
