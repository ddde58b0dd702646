"""CLI commands over the warehouse: submit (one file, several, or folders), query, history,
export-parquet."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tipstats.cli.app import HomeOption, app, console, err_console
from tipstats.cli.summaries import print_validation_summary
from tipstats.home import Home, resolve_home

if TYPE_CHECKING:
    from tipstats.warehouse import SubmissionResult

MAX_TABLE_ROWS = 200


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _waiting(message: str) -> None:
    err_console.print(Text(message), highlight=False)


@app.command()
def submit(
    files: Annotated[
        list[Path],
        typer.Argument(help="Submitted files (CSV, XLSX, dataUNODC export) or folders of them."),
    ],
    workers: Annotated[
        int | None,
        typer.Option(help="Processes that validate a batch (default: one per CPU; 1: none)."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Validate and load files into the warehouse; exit 0 all accepted, 1 any rejected, 2 usage."""
    from tipstats import warehouse

    if len(files) == 1 and not files[0].is_dir():
        _submit_one(files[0], resolve_home(home))
        return
    results = warehouse.submit_many(
        files, resolve_home(home), workers=workers, on_wait=_waiting, on_result=_print_outcome
    )
    counts = Counter(r.status for r in results)
    console.print(
        f"{len(results)} files: {counts[warehouse.ACCEPTED]} accepted, "
        f"{counts[warehouse.REJECTED]} rejected, {counts[warehouse.DUPLICATE]} already received",
        highlight=False,
    )
    raise typer.Exit(1 if counts[warehouse.REJECTED] else 0)


def _submit_one(file: Path, home: Home) -> None:
    from tipstats import warehouse

    result = warehouse.submit(file, home, on_wait=_waiting)
    if result.status == warehouse.DUPLICATE:
        console.print(Text(f"{file.name}: {result.message}; nothing changed"), highlight=False)
        raise typer.Exit(0)
    if result.report is None and result.status == warehouse.REJECTED:
        err_console.print(f"[bold red]error:[/] {escape(result.message)}", highlight=False)
        console.print(
            f"submission {result.submission_id}: rejected, nothing loaded (raw copy kept)",
            highlight=False,
        )
        raise typer.Exit(result.exit_code or 1)
    if result.report is not None:
        from tipstats.reports import ReportPaths

        paths = ReportPaths(csv=result.report_path, html=result.report_html)
        print_validation_summary(file.name, result.report, paths)
    if result.status == warehouse.ACCEPTED:
        console.print(
            f"submission {result.submission_id}: {result.n_cells} cells loaded"
            + (f" for {result.country}" if result.country else ""),
            highlight=False,
        )
        raise typer.Exit(0)
    console.print(
        f"submission {result.submission_id}: rejected, nothing loaded (raw copy kept)",
        highlight=False,
    )
    raise typer.Exit(1)


def _print_outcome(result: SubmissionResult) -> None:
    """One line per file of a batch."""
    name = escape(result.original_name)
    if result.status == "duplicate":
        line = f"{name}: {escape(result.message)}; nothing changed"
    elif result.status == "accepted":
        where = f" for {result.country}" if result.country else ""
        line = (
            f"{name}: [green]accepted[/], submission {result.submission_id}, "
            f"{result.n_cells} cells loaded{where} ({result.n_warnings} warnings)"
        )
    elif result.report is None:
        line = f"{name}: [bold red]rejected[/], submission {result.submission_id}: " + escape(
            result.message
        )
    else:
        line = (
            f"{name}: [bold red]rejected[/], submission {result.submission_id} "
            f"({result.n_errors} errors, {result.n_warnings} warnings); report: "
            + escape(str(result.report_html))
        )
    console.print(line, highlight=False, soft_wrap=True)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One SQL SELECT over the warehouse tables and views.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="How to print the result.")
    ] = OutputFormat.table,
    home: HomeOption = None,
) -> None:
    """Run a read-only SQL query on the warehouse (writes are refused)."""
    from tipstats import warehouse

    frame = warehouse.query(resolve_home(home), sql, on_wait=_waiting)
    _print_frame(frame, output)


@app.command()
def history(
    country: Annotated[str, typer.Argument(help="ISO3 code of the country, e.g. CAN.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="How to print the result.")
    ] = OutputFormat.table,
    home: HomeOption = None,
) -> None:
    """List a country's submissions and the cells each added, revised or had superseded."""
    from tipstats import warehouse

    frame = warehouse.history(resolve_home(home), country, on_wait=_waiting)
    if frame.empty and output is OutputFormat.table:
        console.print(Text(f"no submission for {country.upper()} in the warehouse"))
        return
    _print_frame(frame, output)


@app.command("export-parquet")
def export_parquet(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Target folder. Default: <home>/exports/parquet/observations."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Write the current observations as Parquet partitioned by year (year=YYYY/)."""
    from tipstats import warehouse

    target = warehouse.export_parquet(resolve_home(home), out, on_wait=_waiting)
    files = sorted(target.rglob("*.parquet"))
    console.print(Text(f"{len(files)} Parquet files in {target}"), soft_wrap=True)


def _print_frame(frame: pd.DataFrame, output: OutputFormat) -> None:
    if output is OutputFormat.csv:
        typer.echo(frame.to_csv(index=False), nl=False)
        return
    if output is OutputFormat.json:
        typer.echo(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        return
    table = Table(show_lines=False)
    for column in frame.columns:
        table.add_column(escape(str(column)), overflow="fold")
    for row in frame.head(MAX_TABLE_ROWS).itertuples(index=False):
        table.add_row(*(Text(_cell(v)) for v in row))
    console.print(table)
    if len(frame) > MAX_TABLE_ROWS:
        console.print(f"… {len(frame) - MAX_TABLE_ROWS} more rows (use --format csv for all)")
    else:
        console.print(f"{len(frame)} rows", highlight=False)


def _cell(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)
