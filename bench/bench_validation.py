"""`tipstats validate` of one file, before/after in turns: wall, user and system CPU seconds.

    .venv/bin/python bench/bench_validation.py FILE --before SRC [--rounds 5] [--peer]

Each round runs one fresh process of each variant one after the other: the working tree's
`tipstats validate`, the same command with ``SRC`` (the ``src`` folder of an older checkout,
e.g. a `git worktree`) first on ``PYTHONPATH`` and, with ``--peer``, `frictionless validate`
with the Table Schema that ``bench/run.py`` writes. CPU times come from ``os.wait4`` (the
process and the threads it ran). Medians per variant are printed as a Markdown table; the
machine is shared, so only figures of the same rounds are compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, float, int]:
    """Wall, user, system seconds, peak resident MB and exit code of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--before", type=Path, help="src folder of the code to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--peer", action="store_true", help="frictionless validate too")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench_validation_"))
    command = [str(BIN / "tipstats"), "validate", "--home", str(home), str(args.file)]
    variants: dict[str, tuple[list[str], dict[str, str]]] = {"after": (command, dict(os.environ))}
    if args.before:
        env = dict(os.environ)
        # the older checkout's `schemas` package sits beside its `src`
        env["PYTHONPATH"] = f"{args.before}{os.pathsep}{args.before.parent}"
        variants["before"] = (command, env)
    if args.peer:
        schema = ROOT / "bench" / "work" / "template.schema.json"
        peer = [str(BIN / "frictionless"), "validate", "--trusted", str(args.file)]
        variants["frictionless"] = ([*peer, "--schema", str(schema)], dict(os.environ))
    figures: dict[str, list[tuple[float, float, float, float, int]]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        for name, (argv, env) in variants.items():
            found = run(argv, env)
            figures[name].append(found)
            wall, user, system, peak, code = found
            load = os.getloadavg()[0]
            print(
                f"round {round_ + 1} {name:12s} wall {wall:6.2f} user {user:6.2f} "
                f"sys {system:5.2f} cpu {user + system:6.2f} peak {peak:5.0f} MB "
                f"exit {code} load {load:.1f}",
                flush=True,
            )
    print("\n| variant | wall s | user s | sys s | CPU s (user+sys) | peak MB |")
    print("|---|---|---|---|---|---|")
    for name, rows in figures.items():
        columns = zip(*rows, strict=True)
        wall, user, system, peak, _ = (statistics.median(column) for column in columns)
        cpu = statistics.median(u + s for _, u, s, _, _ in rows)
        print(f"| {name} | {wall:.2f} | {user:.2f} | {system:.2f} | {cpu:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
