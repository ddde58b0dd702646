"""CLI command: generate synthetic submissions (the bundled samples and the benchmark workload)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tipstats.cli.app import app, console


@app.command("generate-sample")
def generate_sample(
    countries: Annotated[
        str,
        typer.Option(
            help="How many countries (stratified over GLOTIP regions), or a list: BRA,SEN."
        ),
    ] = "12",
    years: Annotated[
        str, typer.Option(help="Reference years, e.g. 2021-2023 or 2022.")
    ] = "2021-2023",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 1,
    out: Annotated[Path, typer.Option(help="Folder for the files <ISO3>_<year>.<format>.")] = Path(
        "samples"
    ),
    file_format: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
    language: Annotated[str, typer.Option(help="Write codes as labels in en, fr or es.")] = "en",
) -> None:
    """Write realistic, consistent synthetic submissions: one file per country and year."""
    chosen: int | list[str] = (
        int(countries) if countries.strip().isdigit() else [c.strip() for c in countries.split(",")]
    )
    # imported here: the generator is not needed by the other commands' start-up
    from tipstats.sample_files import generate_sample_files
    from tipstats.synthetic import parse_years

    result = generate_sample_files(
        out, chosen, parse_years(years), seed, file_format=file_format, language=language
    )
    console.print(
        f"{len(result.paths):,} files, {result.n_rows:,} rows, "
        f"{len(result.countries)} countries -> {result.folder}"
    )
