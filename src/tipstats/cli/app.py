"""The typer application and the error boundary shared by every command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tipstats.errors import TipstatsError

app = typer.Typer(
    name="tipstats",
    help="Standardized indicators on trafficking in persons: validate, load, aggregate, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Runtime folder (inbox, raw, warehouse, exports, reports). "
        "Default: $TIPSTATS_HOME, else ./data.",
        show_default=False,
    ),
]


def fail(message: str, exit_code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(exit_code)


def main() -> None:
    """Entry point: run the app, turning expected problems into one line and an exit code."""
    try:
        app()
    except TipstatsError as problem:
        err_console.print(f"[bold red]error:[/] {problem}", highlight=False)
        sys.exit(problem.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
