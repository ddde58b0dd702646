"""CLI commands: ``tipstats validate`` (read, validate, report; nothing is loaded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tipstats.allocator import keep_freed_memory
from tipstats.cli.app import HomeOption, app, console, err_console
from tipstats.cli.summaries import print_validation_summary
from tipstats.errors import TipstatsError
from tipstats.home import resolve_home


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

    keep_freed_memory()
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
        print_validation_summary(file.name, report, result.paths)
    raise typer.Exit(0 if report.accepted else 1)
