"""The country table of a warehouse (``report_tables.country_table``): CPU and wall, code A vs B.

Reads the ``sdg_16_2_2`` mart once (read-only, as ``tipstats export`` does) and caches it as
Parquet, then builds the country table in a fresh process per run, in turns for each source tree
given (``--src``, e.g. a ``git worktree`` of an older commit and the checkout), so that the
disclosure search's memo of solved blocks starts empty every time. Reports CPU
(``time.process_time``) next to wall time for the whole table, for ``protect`` and for the
``audit`` after it, medians over the runs, and checks that every tree gives the same published
frame (``--save DIR`` keeps each tree's frame as Parquet). The search runs in the measuring
process: a tree whose ``report_tables`` hands large tables to worker processes
(``disclosure_parallel``) is told to use none, so the figures are those of the search itself:

    git worktree add --detach /tmp/hA/base <commit>
    .venv/bin/python bench/bench_disclosure.py /tmp/hA/home_full --cache /tmp/hA/mart.parquet \\
        --src /tmp/hA/base/src --src src --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

MART = "sdg_16_2_2"


def cached_mart(home: Path, cache: Path) -> None:
    """The mart as ``build_report_tables`` hands it to ``country_table``, kept as Parquet."""
    if cache.exists():
        return
    from tipstats.codelists import load_codelists
    from tipstats.exports import _with_region_names
    from tipstats.home import Home
    from tipstats.report_tables import UNPUBLISHED, _present
    from tipstats.warehouse import read_tables

    mart = read_tables(Home(home), [MART])[MART]
    mart = _with_region_names(mart, load_codelists())
    mart = mart.drop(columns=_present(mart, UNPUBLISHED))
    cache.parent.mkdir(parents=True, exist_ok=True)
    mart.to_parquet(cache)


def child(cache: Path, save: Path | None) -> None:
    """One run in this process: the country table, timed as a whole and by step."""
    import pandas as pd

    from tipstats import report_tables
    from tipstats.disclosure import DisclosureConfig

    mart = pd.read_parquet(cache)
    parallel = getattr(report_tables, "parallel", None)
    if parallel is not None:  # one process: CPU of worker processes would not be counted
        parallel.MIN_ROWS_PER_WORKER = 1 << 60
    spent = {"protect": [0.0, 0.0], "audit": [0.0, 0.0]}

    def timed(name, function):
        def run(*args, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name][0] += time.process_time() - cpu
                spent[name][1] += time.perf_counter() - wall

        return run

    report_tables.protect = timed("protect", report_tables.protect)
    report_tables.audit = timed("audit", report_tables.audit)
    cpu, wall = time.process_time(), time.perf_counter()
    table = report_tables.country_table(mart, DisclosureConfig())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if save is not None:
        table.frame.to_parquet(save)
    flags = table.frame["flag"].value_counts().to_dict()
    result = {
        "cpu": cpu,
        "wall": wall,
        "protect_cpu": spent["protect"][0],
        "protect_wall": spent["protect"][1],
        "audit_cpu": spent["audit"][0],
        "audit_wall": spent["audit"][1],
        "rows": len(table.frame),
        "exposed": int(table.n_exposed),
        "flags": flags,
    }
    sys.stdout.write(json.dumps(result) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--src", action="append", type=Path, default=[])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save", type=Path, help="folder for each tree's frame (Parquet)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.cache, args.out)
        return
    cached_mart(args.home, args.cache)
    trees = args.src or [Path("src")]
    results: dict[Path, list[dict]] = {tree: [] for tree in trees}
    for run in range(args.runs):
        for number, tree in enumerate(trees):
            command = [sys.executable, __file__, str(args.home), "--cache", str(args.cache)]
            command.append("--child")
            if args.save is not None and run == 0:
                args.save.mkdir(parents=True, exist_ok=True)
                command += ["--out", str(args.save / f"tree{number}.parquet")]
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results[tree].append(result)
            load = os.getloadavg()[0]
            sys.stdout.write(
                f"run {run} {tree}: table {result['cpu']:.1f} s CPU / {result['wall']:.1f} s wall,"
                f" protect {result['protect_cpu']:.1f} / {result['protect_wall']:.1f},"
                f" audit {result['audit_cpu']:.1f} / {result['audit_wall']:.1f},"
                f" exposed {result['exposed']}, flags {result['flags']}, load {load:.1f}\n"
            )
            sys.stdout.flush()
    for tree, runs in results.items():
        medians = {
            key: statistics.median(r[key] for r in runs)
            for key in ("cpu", "wall", "protect_cpu", "protect_wall", "audit_cpu", "audit_wall")
        }
        sys.stdout.write(
            f"median {tree}: "
            + ", ".join(f"{key} {value:.2f}" for key, value in medians.items())
            + "\n"
        )
    if args.save is not None and len(trees) > 1:
        import pandas as pd

        frames = [pd.read_parquet(args.save / f"tree{n}.parquet") for n in range(len(trees))]
        same = all(frames[0].equals(other) for other in frames[1:])
        sys.stdout.write(f"published frames identical: {same}\n")


if __name__ == "__main__":
    main()
