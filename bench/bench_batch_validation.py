"""Validation cost per file of many small files: one by one (as a chain) against batch validation.

    .venv/bin/tipstats generate-sample --countries 200 --years 2005-2024 --out /tmp/world
    .venv/bin/python bench/bench_batch_validation.py /tmp/world [--files 4000] [--group 400]

Reads the files once (not timed), then in this one process, interleaved, ``--repeat`` times:
- one by one: ``validation.validate`` of each file against its history, each accepted file
  applied to the history before the next (what ``checking`` did in every worker);
- batch: ``validation_batch.validate_batch`` over groups of whole country chains of about
  ``--group`` files (what the pool's workers do now).
Prints wall and CPU (``time.process_time``) milliseconds per file, medians of the repeats, and
checks that both give the same reports. No report is written: validation only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd

from tipstats import checking, validation
from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.validation_batch import validate_batch


def one_by_one(parsed, countries, codelists, history):
    current, reports = history, []
    for p, mine in zip(parsed, countries, strict=True):
        report = validation.validate(p, codelists, checking.history_of(current, mine))
        obs = report.observations
        if report.accepted and obs is not None and len(obs):
            current = checking.after_load(current, obs)
        reports.append(report)
    return reports


def batched(parsed, countries, codelists, history, group):
    reports = [None] * len(parsed)
    for members in checking.chain_groups(countries, group):
        found = validate_batch(
            [parsed[i] for i in members],
            codelists,
            history,
            countries=[countries[i] for i in members],
        )
        for i, report in zip(members, found, strict=True):
            reports[i] = report
    return reports


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=4000)
    parser.add_argument("--group", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-only", action="store_true", help="skip the one-by-one runs")
    args = parser.parse_args()
    codelists = load_codelists()
    paths = sorted(args.folder.glob("*.csv"))[: args.files]
    parsed = [checking.read_file(path)[0] for path in paths]
    countries = [checking.countries_of(p.frame, codelists) for p in parsed]
    history = pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS))
    n = len(parsed)
    rows = sum(len(p.frame) for p in parsed)
    print(f"{n} files, {rows:,} rows; group of about {args.group} files")
    figures: dict[str, list[tuple[float, float]]] = {"one by one": [], "batch": []}
    for _ in range(args.repeat):
        if not args.batch_only:
            slow, wall, cpu = timed(one_by_one, parsed, countries, codelists, history)
            figures["one by one"].append((wall, cpu))
        fast, wall, cpu = timed(batched, parsed, countries, codelists, history, args.group)
        figures["batch"].append((wall, cpu))
    if not args.batch_only:
        for a, b in zip(slow, fast, strict=True):
            pd.testing.assert_frame_equal(a.table, b.table)
            pd.testing.assert_frame_equal(a.observations, b.observations)
        print("reports identical")
    for name, runs in figures.items():
        if not runs:
            continue
        wall = statistics.median(w for w, _ in runs) / n * 1000
        cpu = statistics.median(c for _, c in runs) / n * 1000
        print(f"{name}: {wall:.2f} ms wall, {cpu:.2f} ms CPU per file (median of {len(runs)})")


if __name__ == "__main__":
    main()
