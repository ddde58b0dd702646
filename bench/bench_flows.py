"""Orchestration overhead (issue 7): the pipeline as Prefect flows against the same library calls.

    .venv/bin/python bench/bench_flows.py [--files 200] [--repeat 3]

Generates small submissions with ``tipstats generate-sample`` into ``bench/work/flows/`` (one file
per country and year), then, for each repeat and in fresh processes on fresh homes:

- ``library``: for every file ``warehouse.submit`` + ``inbox.archive``, then ``build_marts`` and
  ``export_tables``: what the flows call, without Prefect;
- ``prefect``: the ``pipeline`` flow (one task per file, artifacts, caching), in Prefect's local
  ephemeral mode. A trivial flow runs first, so the ephemeral server's start-up is measured
  apart from the pipeline itself (a served deployment or a real server pays it once, not per run).

Writes the medians to ``bench/flows_results.md`` with the machine and the command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "flows"
RESULTS = BENCH / "flows_results.md"


def generate(n_files: int) -> Path:
    years = 4
    countries = max(1, n_files // years)
    folder = WORK / f"samples_{countries}x{years}"
    if not folder.exists():
        subprocess.run(
            [
                str(Path(sys.executable).parent / "tipstats"),
                "generate-sample",
                "--countries",
                str(countries),
                "--years",
                f"2021-{2020 + years}",
                "--seed",
                "7",
                "--out",
                str(folder),
            ],
            check=True,
            capture_output=True,
        )
    return folder


def measure_library(home_root: Path) -> dict[str, float]:
    started = time.perf_counter()
    from tipstats import inbox
    from tipstats.home import resolve_home
    from tipstats.ingest_summary import outcome_from_result
    from tipstats.pipeline_steps import build_marts, export_tables
    from tipstats.warehouse import submit

    home = resolve_home(home_root)
    imported = time.perf_counter()
    for path in inbox.pending_files(home):
        outcome = outcome_from_result(path, submit(path, home))
        inbox.archive(path, home, outcome.archive_folder)
    ingested = time.perf_counter()
    build_marts(home)
    built = time.perf_counter()
    export_tables(home)
    done = time.perf_counter()
    return {
        "imports": imported - started,
        "ingest": ingested - imported,
        "build": built - ingested,
        "export": done - built,
        "pipeline": done - imported,
    }


def measure_prefect(home_root: Path) -> dict[str, float]:
    started = time.perf_counter()
    from flows.settings import configure_prefect
    from tipstats.home import resolve_home

    home = resolve_home(home_root)
    configure_prefect(home)
    from prefect import flow

    from flows.build_warehouse import build_warehouse
    from flows.ingest_inbox import ingest_inbox
    from flows.publish import publish

    @flow
    def warm_up() -> None:
        return None

    imported = time.perf_counter()
    warm_up()
    warmed = time.perf_counter()
    # The three sub-flows of ``pipeline``, timed one by one.
    ingest_inbox(str(home.root))
    ingested = time.perf_counter()
    build_warehouse(str(home.root))
    built = time.perf_counter()
    publish(str(home.root))
    done = time.perf_counter()
    return {
        "imports": imported - started,
        "server start": warmed - imported,
        "ingest": ingested - warmed,
        "build": built - ingested,
        "export": done - built,
        "pipeline": done - warmed,
    }


def one_run(mode: str, samples: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tipstats-bench-") as tmp:
        home = Path(tmp) / "home"
        (home / "inbox").mkdir(parents=True)
        for path in sorted(samples.glob("*.csv")):
            shutil.copy2(path, home / "inbox" / path.name)
        env = {**os.environ, "PREFECT_HOME": str(Path(tmp) / "prefect")}
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(home)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        timings = json.loads(completed.stdout.strip().splitlines()[-1])
        timings["process"] = time.perf_counter() - started
        return timings


def table(results: dict[str, list[dict[str, float]]]) -> list[str]:
    stages = ["imports", "server start", "ingest", "build", "export", "pipeline", "process"]
    lines = ["| stage | library (s) | prefect (s) | prefect / library |", "|---|---|---|---|"]
    for stage in stages:
        medians = {
            mode: statistics.median(run[stage] for run in runs) if stage in runs[0] else None
            for mode, runs in results.items()
        }
        lib, pre = medians["library"], medians["prefect"]
        ratio = f"{pre / lib:.2f}" if lib and pre else ""
        lines.append(
            f"| {stage} | {'' if lib is None else f'{lib:.2f}'} | "
            f"{'' if pre is None else f'{pre:.2f}'} | {ratio} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, home = args.child
        measure = measure_library if mode == "library" else measure_prefect
        print(json.dumps(measure(Path(home))))
        return

    samples = generate(args.files)
    n_files = len(list(samples.glob("*.csv")))
    results: dict[str, list[dict[str, float]]] = {"library": [], "prefect": []}
    for _ in range(args.repeat):
        for mode in results:
            results[mode].append(one_run(mode, samples))
    lib = statistics.median(r["pipeline"] for r in results["library"])
    pre = statistics.median(r["pipeline"] for r in results["prefect"])
    lines = [
        "# Orchestration overhead (issue 7)",
        "",
        f"Command: `.venv/bin/python bench/bench_flows.py --files {args.files} "
        f"--repeat {args.repeat}`  ",
        f"Run: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.platform()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}  ",
        f"Workload: {n_files} small synthetic submissions (one per country and year), fresh home "
        "and fresh process per run; medians of the repeats.",
        "",
        *table(results),
        "",
        f"**Overhead of the flows over the same library calls: {100 * (pre / lib - 1):+.0f} %** "
        "(pipeline row: ingest + build + export, after the ephemeral server is up; "
        "target: at most +30 %).",
        "",
        "`server start` is the one-off start of Prefect's ephemeral API in a fresh process (a "
        "served deployment or a real Prefect server pays it once, not per run); `process` is the "
        "whole subprocess wall time including interpreter start-up and imports.",
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
