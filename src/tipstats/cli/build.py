"""CLI command: tipstats build (SQL models -> marts, write-audit-publish)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tipstats.cli.app import HomeOption, app, console, fail
from tipstats.home import resolve_home


@app.command()
def build(
    select: Annotated[
        str | None, typer.Option("--select", help="MODEL, MODEL+ (descendants), +MODEL (ancestors)")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Build the SQL models into marts; publish only when every SQL test passes."""
    # imported here: every other command would pay for DuckDB and sqlglot at start-up
    from tipstats.pipeline_steps import run_models
    from tipstats.sql_runner import SqlTestFailed

    try:
        result = run_models(resolve_home(home), select=select)
    except SqlTestFailed as failure:
        # exit 1 with the test's name and first rows; the published marts are unchanged
        raise fail(str(failure)) from failure
    table = Table("model", "rows", "seconds", "status")
    for row in result.itertuples(index=False):
        table.add_row(row.model, f"{row.rows:,}", f"{row.seconds:.2f}", row.status)
    console.print(table)
