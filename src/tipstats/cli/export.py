"""CLI command: export (report tables, SDMX-CSV, charts, profiles, with disclosure control)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tipstats.cli.app import HomeOption, app, console
from tipstats.home import resolve_home


@app.command("export")
def export(
    home: HomeOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder that receives <run-id>/. Default: <home>/exports."),
    ] = None,
    threshold: Annotated[
        int, typer.Option("--threshold", help="Smallest count published as it is.", min=2)
    ] = 5,
    publish_zero: Annotated[
        bool, typer.Option("--publish-zero", help="Show zero counts as 0 (default: as <N>).")
    ] = False,
) -> None:
    """Write the Global Report exports (XLSX, CSV, Parquet, SDMX-CSV, charts, profiles)."""
    # scipy and matplotlib load here, not at every command's start-up
    from tipstats.disclosure import DisclosureConfig
    from tipstats.exports import export_home

    config = DisclosureConfig(threshold=threshold, publish_zero=publish_zero)
    result = export_home(resolve_home(home), out=out, config=config)
    table = Table("table", "rows", "<N", "hidden (secondary)", "exposed", title="disclosure")
    for summary in result.manifest["tables"]:
        table.add_row(
            summary["name"],
            str(summary["rows"]),
            str(summary["suppressed_primary"]),
            str(summary["suppressed_secondary"]),
            str(summary["exposed_cells"]),
        )
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(
        f"[bold green]exported[/] run {result.run_id}: {len(result.files)} files in {result.folder}"
    )
