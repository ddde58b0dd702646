"""CLI commands: samples (filled in by its issue)."""

from __future__ import annotations
