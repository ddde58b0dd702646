"""Pure: what happened to each inbox file, and the run's summary, as plain data.

Flows publish these as Prefect artifacts and the CLI prints them; both read the same objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tipstats.errors import UsageError
from tipstats.report_frame import REPORT_COLUMNS


@dataclass(frozen=True)
class FileOutcome:
    file_name: str
    status: str  # accepted | rejected | duplicate | failed
    submission_id: int | None = None
    country: str | None = None
    n_rows: int = 0
    n_cells: int = 0
    n_errors: int = 0
    n_warnings: int = 0
    message: str = ""
    report_path: str | None = None
    report: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REPORT_COLUMNS))

    @classmethod
    def failed(cls, path: Path, message: str) -> FileOutcome:
        return cls(file_name=path.name, status="failed", message=message)

    @property
    def archive_folder(self) -> str:
        return "rejected" if self.status == "rejected" else "accepted"

    def artifact_key(self) -> str:
        # Prefect artifact keys allow lowercase letters, digits and dashes only.
        stem = re.sub(r"[^a-z0-9]+", "-", Path(self.file_name).stem.lower()).strip("-")
        suffix = f"s{self.submission_id}" if self.submission_id is not None else "unsaved"
        return f"validation-{stem or 'file'}-{suffix}"[:100]


@dataclass(frozen=True)
class IngestSummary:
    outcomes: tuple[FileOutcome, ...]

    @property
    def accepted(self) -> int:
        return sum(o.status == "accepted" for o in self.outcomes)

    @property
    def rejected(self) -> int:
        return sum(o.status == "rejected" for o in self.outcomes)

    @property
    def duplicates(self) -> int:
        return sum(o.status == "duplicate" for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == "failed" for o in self.outcomes)

    @property
    def cells_loaded(self) -> int:
        return sum(o.n_cells for o in self.outcomes if o.status == "accepted")


def summarize_ingest(outcomes: list[FileOutcome]) -> IngestSummary:
    return IngestSummary(tuple(outcomes))


def batches(files: Sequence[Path], size: int) -> list[list[Path]]:
    """``files`` in consecutive groups of at most ``size``, in order."""
    if size < 1:
        raise UsageError(f"batch size must be at least 1, not {size}")
    return [list(files[start : start + size]) for start in range(0, len(files), size)]


def batch_table_rows(outcomes: Sequence[FileOutcome]) -> list[dict[str, Any]]:
    """One row per file of a batch: what happened to it and where its report is."""
    return [
        {
            "file": o.file_name,
            "status": o.status,
            "submission": o.submission_id,
            "country": o.country,
            "rows": o.n_rows,
            "cells": o.n_cells,
            "errors": o.n_errors,
            "warnings": o.n_warnings,
            "report": o.report_path or o.message,
        }
        for o in outcomes
    ]


def report_table_rows(outcome: FileOutcome, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` report rows as JSON-safe dicts (an artifact, not the full report)."""
    head = outcome.report.head(limit).astype(object)
    head = head.where(head.notna(), None)
    return [{key: _plain(value) for key, value in row.items()} for row in head.to_dict("records")]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def summary_markdown(summary: IngestSummary) -> str:
    lines = [
        "# Inbox ingest",
        "",
        f"- accepted: {summary.accepted}",
        f"- rejected: {summary.rejected}",
        f"- already received: {summary.duplicates}",
        f"- failed (left in the inbox for the next run): {summary.failed}",
        f"- cells loaded: {summary.cells_loaded}",
        "",
        "| file | status | submission | rows | cells | errors | warnings | report |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in summary.outcomes:
        lines.append(
            f"| {o.file_name} | {o.status} | {o.submission_id or ''} | {o.n_rows} | {o.n_cells} | "
            f"{o.n_errors} | {o.n_warnings} | {o.report_path or o.message} |"
        )
    return "\n".join(lines) + "\n"


def outcome_from_result(path: Path, result: Any) -> FileOutcome:
    """One inbox file's outcome from what ``warehouse.submit`` returned for it."""
    report = getattr(result.report, "table", None)
    return FileOutcome(
        file_name=path.name,
        status=result.status,
        submission_id=result.submission_id,
        country=result.country,
        n_rows=result.n_rows,
        n_cells=result.n_cells if result.status == "accepted" else 0,
        n_errors=result.n_errors,
        n_warnings=result.n_warnings,
        message=result.message,
        report_path=str(result.report_path) if result.report_path else None,
        report=(
            report.reindex(columns=list(REPORT_COLUMNS))
            if isinstance(report, pd.DataFrame)
            else pd.DataFrame(columns=REPORT_COLUMNS)
        ),
    )
