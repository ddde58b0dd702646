"""`tipstats submit --workers N FOLDER` into a fresh home, timed with the CPU of every process.

The pool's workers are children of multiprocessing's forkserver, not of the command, so
``/usr/bin/time`` and ``process_time`` miss them. This script samples ``/proc`` of the whole
process tree (every 0.1 s) and keeps each process's last seen user + system time: main (the
command), the forkserver, and the workers (the forkserver's children).

Run trees in turns (``--tree label=path``: that checkout's ``src`` on ``PYTHONPATH``), so that the
machine's load falls on all of them alike:

    .venv/bin/python bench/bench_pool.py /tmp/h5/world --workers 2 --runs 2 \
        --tree before=/tmp/h5/base --tree after=.

``--batch N`` runs what the ingest flow does instead of the CLI: one process calls
``warehouse.submit_many`` on consecutive batches of N files (the folder's files by name), so the
pool is kept from one call to the next.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proc_tree import descendants, processes

CLI = "from tipstats.cli import main; main()"
# the ingest flow's loop (flows/ingest_inbox.py) without Prefect: submit_many per batch of files
BATCHES = """
import sys
from collections import Counter
from pathlib import Path
from tipstats.home import resolve_home
from tipstats.warehouse import submit_many
if __name__ == "__main__":
    folder, root, workers, size = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    home = resolve_home(root).ensure()
    files = sorted(p for p in folder.iterdir() if p.is_file())
    statuses = Counter()
    for start in range(0, len(files), size):
        results = submit_many(files[start : start + size], home, workers=workers)
        statuses.update(r.status for r in results)
    print(" ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
"""


def _sample(process: subprocess.Popen) -> tuple[dict[int, float], dict[int, int]]:
    """Each process of the tree's last seen CPU seconds, and each process's parent."""
    cpu: dict[int, float] = {}
    parent: dict[int, int] = {}
    while process.poll() is None:
        table = processes()
        for pid in descendants(process.pid, table, include_root=True):
            parent.setdefault(pid, table[pid].parent)
            cpu[pid] = table[pid].cpu_seconds
        time.sleep(0.5)
    return cpu, parent


def run_once(
    tree: Path, files: Path, workers: int, batch: int | None = None, keep: Path | None = None
) -> tuple[dict[str, float], str]:
    home = Path(tempfile.mkdtemp(prefix="bench_pool_home_", dir=tempfile.gettempdir()))
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}:{tree}"}
    if batch is None:
        command = [sys.executable, "-c", CLI, "submit", "--workers", str(workers)]
        command += ["--home", str(home), str(files)]
    else:
        script = home.with_suffix(".py")  # a file: the forkserver preloads __main__
        script.write_text(BATCHES)
        command = [sys.executable, str(script), str(files), str(home), str(workers), str(batch)]
    start = time.perf_counter()
    log = home.with_suffix(".log")
    with log.open("wb") as sink:  # a file, not a pipe: the command prints a line per file
        process = subprocess.Popen(command, env=env, cwd=tree, stdout=sink, stderr=sink)
        cpu, parent = _sample(process)
    wall = time.perf_counter() - start
    output = log.read_text(errors="replace").strip()
    if keep is not None:  # for comparing warehouses and reports
        shutil.rmtree(keep, ignore_errors=True)
        shutil.move(home, keep)
    shutil.rmtree(home, ignore_errors=True)
    log.unlink()
    home.with_suffix(".py").unlink(missing_ok=True)
    if process.returncode not in (0, 1):
        raise SystemExit(f"submit failed ({process.returncode}): {output[-2000:]}")
    forkservers = {pid for pid in cpu if parent.get(pid) == process.pid}
    workers_cpu = sum(c for pid, c in cpu.items() if parent.get(pid) in forkservers)
    return {
        "wall": wall,
        "main": cpu.get(process.pid, 0.0),
        "forkserver": sum(cpu[p] for p in forkservers),
        "workers": workers_cpu,
        "total": sum(cpu.values()),
    }, output.splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--tree", action="append", required=True, help="label=checkout")
    parser.add_argument("--batch", type=int, help="submit_many per batch of N files, as the flow")
    parser.add_argument("--keep", type=Path, help="keep each tree's last home in KEEP/<label>")
    args = parser.parse_args()
    trees = [(t.split("=", 1)[0], Path(t.split("=", 1)[1]).resolve()) for t in args.tree]
    found: dict[str, list[dict[str, float]]] = {label: [] for label, _ in trees}
    for n in range(args.runs):
        for label, tree in trees:
            load = os.getloadavg()[0]
            keep = None if args.keep is None else args.keep / label
            figures, summary = run_once(tree, args.files, args.workers, args.batch, keep)
            found[label].append(figures)
            print(
                f"run {n + 1} {label}: load {load:.1f} "
                + " ".join(f"{k} {v:.1f}" for k, v in figures.items())
                + f" ({summary})",
                flush=True,
            )
    print("| tree | wall s | main CPU s | forkserver CPU s | workers CPU s | total CPU s |")
    print("|---|---|---|---|---|---|")
    for label, runs in found.items():
        cells = [
            f"{statistics.median(r[k] for r in runs):.1f} "
            f"({min(r[k] for r in runs):.1f}-{max(r[k] for r in runs):.1f})"
            for k in ("wall", "main", "forkserver", "workers", "total")
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
