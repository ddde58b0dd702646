"""CLI commands: run the Prefect pipeline once, serve its deployments, and the demo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from tipstats.cli.app import HomeOption, app, console
from tipstats.errors import TipstatsError
from tipstats.home import resolve_home, samples_dir


def _run_pipeline(home_option: Path | None, threshold: int):
    tipstats_home = resolve_home(home_option).ensure()
    from flows.settings import configure_prefect

    configure_prefect(tipstats_home)
    from flows.temporary_server import start_unless_configured

    server = start_unless_configured()  # starts while the flows' modules are imported
    from flows import progress
    from flows.pipeline import pipeline
    from flows.settings import held_run_errors, local_run_settings, replay

    display = RunDisplay()
    progress.watch(display.update)
    try:
        with held_run_errors() as holder:
            try:
                with (
                    local_run_settings(server),
                    Live(display.render(), console=console, transient=True) as live,
                ):
                    display.live = live
                    summary = pipeline(home=str(tipstats_home.root), threshold=threshold)
            except TipstatsError:
                raise
            except Exception:
                replay(holder)
                raise
    finally:
        progress.unwatch(display.update)
        console.print(display.render())
    console.print(summary_table(summary))
    return summary


@app.command()
def run(
    home: HomeOption = None,
    threshold: Annotated[int, typer.Option(help="Smallest count published as is.")] = 5,
) -> None:
    """Run the whole pipeline once: inbox -> warehouse -> marts -> exports."""
    summary = _run_pipeline(home, threshold)
    raise typer.Exit(1 if summary.ingest.failed else 0)


@app.command()
def serve(home: HomeOption = None) -> None:
    """Serve the Prefect deployments of prefect.yaml with their schedules, from one process."""
    tipstats_home = resolve_home(home).ensure()
    from flows.settings import configure_prefect

    configure_prefect(tipstats_home)
    from flows.temporary_server import require_reachable

    if api_url := os.environ.get("PREFECT_API_URL"):
        require_reachable(api_url)
    from flows.deployments import serve_all

    serve_all(tipstats_home)


@app.command()
def demo(home: HomeOption = None) -> None:
    """Copy the bundled samples into a fresh inbox and run the pipeline on them."""
    tipstats_home = resolve_home(home).ensure()
    from tipstats.inbox import fill_inbox

    samples = sorted(
        path
        for path in samples_dir().rglob("*")
        if path.is_file() and path.suffix.lower() in {".csv", ".xlsx"}
    )
    if tipstats_home.inbox.exists():
        shutil.rmtree(tipstats_home.inbox)
    fill_inbox(samples, tipstats_home)
    console.print(f"[bold]demo:[/] {len(samples)} sample files copied into {tipstats_home.inbox}")
    summary = _run_pipeline(home, 5)
    console.print(f"[bold green]exports:[/] {summary.export.folder}")


class RunDisplay:
    """The live view of a run: files, rows and models as the tasks report them."""

    def __init__(self) -> None:
        self.live: Live | None = None
        self.files_total = 0
        self.files_done = 0
        self.rows = 0
        self.accepted = 0
        self.rejected = 0
        self.stage = "starting"
        self.models = 0
        self.last_file = ""

    def update(self, event: dict) -> None:
        self.stage = event["stage"]
        if event["stage"] == "ingest" and event["event"] == "start":
            self.files_total = event["total"]
        elif event["event"] == "file_done":
            self.files_done += 1
            self.last_file = f"{event['file']}: {event['status']}"
            if event["status"] == "accepted":
                self.accepted += 1
                self.rows += event.get("cells") or 0
            elif event["status"] == "rejected":
                self.rejected += 1
        elif event["stage"] == "build" and event["event"] == "done":
            self.models = event.get("models", 0)
        if self.live is not None:
            self.live.update(self.render())

    def render(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_row("stage", self.stage)
        table.add_row(
            "files",
            f"{self.files_done}/{self.files_total} "
            f"({self.accepted} accepted, {self.rejected} rejected)",
        )
        table.add_row("cells loaded", f"{self.rows:,}")
        table.add_row("models", str(self.models))
        table.add_row("last", self.last_file)
        return table


def summary_table(summary) -> Table:
    table = Table(title="pipeline run", show_header=False)
    table.add_row("files accepted", str(summary.ingest.accepted))
    table.add_row("files rejected", str(summary.ingest.rejected))
    table.add_row("already received", str(summary.ingest.duplicates))
    table.add_row("failed (left in inbox)", str(summary.ingest.failed))
    table.add_row("cells loaded", f"{summary.ingest.cells_loaded:,}")
    table.add_row("marts rebuilt", str(summary.build.n_models))
    table.add_row("export folder", str(summary.export.folder))
    return table
