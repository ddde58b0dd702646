"""CLI commands over the warehouse: submit, query, history, export-parquet."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tipstats.cli.app import HomeOption, app, console, err_console
from tipstats.home import resolve_home

MAX_TABLE_ROWS = 200


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _waiting(message: str) -> None:
    err_console.print(Text(message), highlight=False)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="The submitted file (CSV, XLSX, dataUNODC export).")],
    home: HomeOption = None,
) -> None:
    """Validate and load a file into the warehouse; exit 0 accepted, 1 rejected, 2 usage."""
    from tipstats import warehouse

    result = warehouse.submit(file, resolve_home(home), on_wait=_waiting)
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
        from tipstats.cli.ingest import _print_summary
        from tipstats.reports import FileValidation, ReportPaths

        paths = ReportPaths(csv=result.report_path, html=result.report_html)
        _print_summary(file, FileValidation(report=result.report, paths=paths))
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
