"""The fixed cost of ``tipstats run``: source trees in turns, wall and CPU of the process tree.

Each source tree (a ``git worktree`` of a commit) runs ``tipstats run`` in a fresh process with
``PYTHONPATH`` pointing at its ``src`` and checkout, its own ``PREFECT_HOME`` and its own
tipstats home, in turns with the others; CPU is user + system time of the command and every
child it waited for (Prefect's temporary server included), from ``RUSAGE_CHILDREN``. Cases:
``empty`` (an empty inbox, the home kept from run to run: the fixed cost) and ``small`` (a fresh
home with the CSV files of ``--small`` in its inbox each run). A tree's first run in a new
``PREFECT_HOME`` creates Prefect's database: run once with ``--repeat 1`` to time that.

    git worktree add --detach /tmp/hD/base <before>; git worktree add --detach /tmp/hD/after HEAD
    .venv/bin/tipstats generate-sample --countries 1 --years 2005-2024 --out /tmp/hD/small
    .venv/bin/python bench/bench_prefect.py /tmp/hD/base /tmp/hD/after --work /tmp/hD/bench \\
        --small /tmp/hD/small --cases empty,small --repeat 3
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TIPSTATS = Path(sys.executable).parent / "tipstats"


def run_once(tree: Path, case: str, work: Path, small: list[Path]) -> tuple[float, float, int]:
    home = work / f"home_{tree.name}_{case}"
    if case == "small":
        shutil.rmtree(home, ignore_errors=True)
        (home / "inbox").mkdir(parents=True)
        for path in small:
            shutil.copy(path, home / "inbox" / path.name)
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env["PYTHONPATH"] = f"{tree / 'src'}:{tree}"
    env["PREFECT_HOME"] = str(work / f"prefect_{tree.name}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [str(TIPSTATS), "run", "--home", str(home)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-3000:])
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--small", type=Path)
    parser.add_argument("--cases", default="empty")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    small = sorted(args.small.glob("*.csv")) if args.small else []
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    print(f"load average before: {os.getloadavg()}")
    for number in range(args.repeat):
        for case in args.cases.split(","):
            for tree in args.trees:
                wall, cpu, code = run_once(tree, case, args.work, small)
                results.setdefault((case, tree.name), []).append((wall, cpu))
                load = os.getloadavg()[0]
                print(
                    f"{number} {case:6} {tree.name:8} wall {wall:6.2f} cpu {cpu:6.2f} "
                    f"exit {code} load {load:.1f}",
                    flush=True,
                )
    print(f"load average after: {os.getloadavg()}")
    print("| case | tree | runs | median wall s | min wall s | median CPU s | min CPU s |")
    print("|---|---|---|---|---|---|---|")
    for (case, tree), values in sorted(results.items()):
        walls = [wall for wall, _ in values]
        cpus = [cpu for _, cpu in values]
        print(
            f"| {case} | {tree} | {len(values)} | {statistics.median(walls):.2f} | "
            f"{min(walls):.2f} | {statistics.median(cpus):.2f} | {min(cpus):.2f} |"
        )


if __name__ == "__main__":
    main()
