"""CLI commands: ``tipstats validate`` (read, validate, report; nothing is loaded)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

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

    _keep_freed_memory()
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


def _keep_freed_memory() -> None:
    """Keep freed memory in the process for the next allocation instead of handing it back.

    Validating a file of a million rows allocates and frees about a gigabyte in arrays of a few
    megabytes. Arrow's default allocator (mimalloc) and the C library's thresholds give such
    blocks back to the system at once; taking them again costs page faults and, with pyarrow's
    threads alive, TLB shootdowns: on that file 1.3-1.7 s of the command in the kernel, against
    about 0.6 s with memory kept (measured in bench/notes_validation_1m.md). A command that
    validates one file and exits has no use for memory handed back early.
    """
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())  # arrow's buffers from malloc, tuned below
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl...): its defaults stay
        return
    mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)  # never shrink the heap while the command runs
    mallopt(_M_TOP_PAD, 256 * 2**20)  # grow it in large steps
    mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)  # blocks up to 32 MB (the most glibc allows) from it


# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
