"""CLI commands: ``codes`` (code lists with their EN/FR/ES labels) and ``countries``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tipstats.cli.app import app, console
from tipstats.codelists import DIMENSIONS, load_codelists
from tipstats.errors import UsageError


@app.command("codes")
def codes(
    dimension: Annotated[
        str | None,
        typer.Argument(help=f"One of: {', '.join(DIMENSIONS)}. Without it: the dimensions."),
    ] = None,
) -> None:
    """Print a code list with its English, French and Spanish labels."""
    lists = load_codelists()
    if dimension is None:
        table = Table(title="Code lists")
        table.add_column("dimension")
        table.add_column("codes", justify="right")
        for name in lists.dimensions():
            table.add_row(name, str(len(lists.codes(name))))
        console.print(table)
        return
    if dimension not in lists.dimensions():
        raise UsageError(f"unknown dimension {dimension!r}; known: {', '.join(lists.dimensions())}")
    table = Table(title=f"{dimension} codes")
    for column in ("code", "English", "French", "Spanish"):
        table.add_column(column)
    for row in lists.table(dimension).itertuples():
        table.add_row(row.code, row.label_en, row.label_fr, row.label_es)
    console.print(table)


@app.command("countries")
def countries(
    scheme: Annotated[
        str, typer.Option(help="Region scheme: M49, SDG, GLOTIP or WORLD.")
    ] = "GLOTIP",
) -> None:
    """Print every country with its region in a region scheme."""
    lists = load_codelists()
    members = lists.region_members
    if scheme not in set(members["scheme"]):
        raise UsageError(f"unknown scheme {scheme!r}; known: {', '.join(lists.schemes())}")
    chosen = members[members["scheme"] == scheme].merge(
        lists.countries[["iso3", "name_en"]], on="iso3", how="left"
    )
    chosen = chosen.sort_values(["region_name", "iso3"])
    table = Table(title=f"Countries by {scheme} region ({len(chosen)})")
    for column in ("iso3", "name", "region", "sub-region"):
        table.add_column(column)
    for row in chosen.itertuples():
        table.add_row(row.iso3, row.name_en, row.region_name, row.subregion_name)
    console.print(table)
