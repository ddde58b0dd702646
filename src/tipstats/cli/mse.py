"""CLI command: mse, the multiple systems estimate of the total number of victims."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from tipstats import mse as mse_lib
from tipstats.cli.app import HomeOption, app, console, err_console
from tipstats.errors import TipstatsError, UnreadableFileError, UsageError


@app.command("mse")
def mse_command(
    file: Annotated[Path, typer.Argument(help="CSV: one 0/1 column per list plus a count column.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = mse_lib.DEFAULT_SEED,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for the BCa interval (0: no interval).")
    ] = 1000,
    threshold: Annotated[
        float, typer.Option(help="Stepwise selection: largest p-value of an added interaction.")
    ] = mse_lib.DEFAULT_THRESHOLD,
    level: Annotated[float, typer.Option(help="Confidence level.")] = mse_lib.DEFAULT_LEVEL,
    table: Annotated[
        bool, typer.Option("--table", help="Also print the fitted model (coefficients, SE, p).")
    ] = False,
    country: Annotated[
        str | None,
        typer.Option(help="Store the estimate in the warehouse for this country (with --year)."),
    ] = None,
    year: Annotated[int | None, typer.Option(help="Reference year of the stored estimate.")] = None,
    home: HomeOption = None,
) -> None:
    """Estimate the total number of victims (detected + hidden) from overlapping lists."""
    try:
        if (country is None) != (year is None):
            raise UsageError("--country and --year go together")
        frame = _read_capture_file(file)
        result = mse_lib.estimate_population(
            frame, threshold=threshold, n_resamples=bootstrap, seed=seed, level=level
        )
        stored = None
        if country is not None and year is not None:
            from tipstats import warehouse
            from tipstats.home import resolve_home

            stored = warehouse.record_estimate(
                resolve_home(home), country, year, result, source_file=file.name
            )
    except TipstatsError as problem:
        # soft_wrap keeps the message on one line whatever the terminal width
        err_console.print(f"[bold red]error:[/] {file}: {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(problem.exit_code) from None
    if as_json:
        payload = result.to_dict()
        payload["file"] = str(file)
        if table:
            payload["coefficients"] = result.fit.coefficients.to_dict(orient="records")
        if stored is not None:
            payload["stored"] = {"country": stored["country"], "year": stored["year"]}
        typer.echo(json.dumps(payload, indent=2))
        return
    _print_summary(file, result)
    if table:
        _print_coefficients(result.fit)
    if stored is not None:
        console.print(
            f"stored as {stored['indicator']} (status E) for {stored['country']} "
            f"{stored['year']}, apart from detected victims",
            highlight=False,
        )


def _read_capture_file(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if not path.is_file():
        raise UsageError(f"not a file: {path}")
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        # UnicodeDecodeError is a ValueError
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UnreadableFileError(f"cannot read as CSV: {reason}") from None
    if frame.empty:
        raise UnreadableFileError("the file has a header but no rows")
    return frame


def _print_summary(path: Path, result: mse_lib.MSEResult) -> None:
    fit = result.fit
    console.print(
        f"[bold]Multiple systems estimation[/]: {path.name} "
        f"({len(fit.lists)} lists: {', '.join(fit.lists)})",
        highlight=False,
    )
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_row("observed", f"{result.observed:,}")
    summary.add_row("estimate", f"{result.estimate:,.1f}")
    interval = result.interval
    if interval is not None:
        label = (
            f"{interval.level:.0%} CI (BCa, {interval.n_resamples:,} resamples, "
            f"seed {interval.seed})"
        )
        summary.add_row(label, f"{interval.ci_low:,.0f} - {interval.ci_high:,.0f}")
        if interval.n_failed:
            summary.add_row("failed resamples", f"{interval.n_failed:,} (left out)")
    summary.add_row("dark figure", f"{result.dark_figure:,.1f}")
    summary.add_row("model", fit.model)
    if fit.empty_overlaps:
        summary.add_row(
            "never-overlapping pairs",
            ", ".join(fit.empty_overlaps) + " (interaction -inf, patterns fixed at 0)",
        )
    summary.add_row("selection", f"stepwise, p <= {result.threshold:g}")
    console.print(summary, highlight=False)


def _print_coefficients(fit: mse_lib.MSEFit) -> None:
    coefficients = Table(title=f"Poisson log-linear model: {fit.model}")
    for name in ("term", "estimate", "std. error", "z", "p"):
        coefficients.add_column(name, justify="left" if name == "term" else "right")
    for row in fit.coefficients.itertuples(index=False):
        coefficients.add_row(
            row.term,
            f"{row.estimate:.4f}",
            f"{row.std_error:.4f}",
            f"{row.z:.2f}",
            f"{row.p_value:.3g}",
        )
    console.print(coefficients, highlight=False)
    console.print(
        f"deviance {fit.deviance:.3f} on {fit.df_resid} df; AIC {fit.aic:.2f}", highlight=False
    )
