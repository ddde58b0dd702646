"""CLI commands: ``tipstats validate`` (read, validate, report; nothing is loaded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tipstats.cli.app import HomeOption, app, console, err_console
from tipstats.errors import TipstatsError
from tipstats.home import resolve_home

if TYPE_CHECKING:  # the validation stack (pandera) loads only when the command runs
    from tipstats.reports import FileValidation

FIRST_PROBLEMS = 10


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The submitted file (CSV, XLSX, dataUNODC export).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON only (machine-readable).")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Validate a submitted file and write its report; exit 0 accepted, 1 rejected, 2 usage."""
    from tipstats.reports import validate_file

    try:
        runtime = resolve_home(home)
        result = validate_file(file, runtime.reports, home=runtime)
    except TipstatsError as problem:
        if as_json:
            console.print_json(json.dumps({"accepted": False, "error": str(problem)}))
        else:
            err_console.print(f"[bold red]error:[/] {escape(str(problem))}", highlight=False)
        raise typer.Exit(problem.exit_code) from None
    report = result.report
    if as_json:
        payload = report.to_dict()
        payload["report_csv"] = str(result.paths.csv)
        payload["report_html"] = str(result.paths.html)
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        _print_summary(file, result)
    raise typer.Exit(0 if report.accepted else 1)


def _print_summary(file: Path, result: FileValidation) -> None:
    report = result.report
    verdict = "[green]accepted[/]" if report.accepted else "[bold red]rejected[/]"
    console.print(
        f"{escape(file.name)}: {verdict} ({report.layout}, {report.n_rows} rows, "
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
    console.print(Text(f"Full report: {result.paths.html}"), soft_wrap=True)
    console.print(Text(f"As CSV: {result.paths.csv}"), soft_wrap=True)


def _blank(value: object) -> str:
    return "" if value is None or value is pd.NA else str(value)
