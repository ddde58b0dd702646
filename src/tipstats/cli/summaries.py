"""Printing shared by commands that validate files (``validate``, ``submit``): no commands here."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tipstats.cli.app import console

if TYPE_CHECKING:  # the validation stack (pandera) loads only when a command runs
    from tipstats.reports import ReportPaths
    from tipstats.validation import ValidationReport

FIRST_PROBLEMS = 10


def print_validation_summary(file_name: str, report: ValidationReport, paths: ReportPaths) -> None:
    """The verdict, the problems counted by rule, the first problems, where the report is."""
    verdict = "[green]accepted[/]" if report.accepted else "[bold red]rejected[/]"
    console.print(
        f"{escape(file_name)}: {verdict} ({report.layout}, {report.n_rows} rows, "
        f"{report.n_errors} errors, {report.n_warnings} warnings)",
        highlight=False,
    )
    counts = report.counts_by_rule()
    if len(counts):
        table = Table(title="Problems by rule")
        for column in ("rule", "severity", "count"):
            table.add_column(column)
        for row in counts.itertuples(index=False):
            table.add_row(Text(row.rule_id), row.severity, str(row.count))
        console.print(table)
        first = Table(title=f"First {min(FIRST_PROBLEMS, len(report.table))} problems")
        for column in ("row", "rule", "column", "message"):
            first.add_column(column, overflow="fold")
        for row in report.table.head(FIRST_PROBLEMS).itertuples(index=False):
            first.add_row(
                _blank(row.row), Text(row.rule_id), Text(_blank(row.column)), Text(row.message)
            )
        console.print(first)
    console.print(Text(f"Full report: {paths.html}"), soft_wrap=True)
    console.print(Text(f"As CSV: {paths.csv}"), soft_wrap=True)


def _blank(value: object) -> str:
    return "" if value is None or value is pd.NA else str(value)
