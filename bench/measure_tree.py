"""Run a command; print wall s, CPU s of the whole process tree, peak tree RSS MB.

    .venv/bin/python bench/measure_tree.py .venv/bin/tipstats export --home <home> --out <dir>
    MEASURE_DETAIL=1 ...   also each process's resident set at the tree's peak and its own peak

The wrapper is a child subreaper (Linux prctl): the forkserver and pool workers, orphaned when
the command exits, are reparented here and waited for, so their CPU time lands in
RUSAGE_CHILDREN too (plain wait4 on the command misses them).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time

from proc_tree import become_subreaper, descendants, processes


def tree_rss(root: int) -> dict[int, tuple[str, int]]:
    """pid -> (command, RSS KiB) of every descendant of ``root``."""
    table = processes()
    return {pid: (table[pid].command, table[pid].rss_kib) for pid in descendants(root, table)}


def main() -> None:
    if not become_subreaper():
        raise SystemExit("prctl failed")
    peak = [0.0]
    at_peak: list[dict] = [{}]
    per_pid_peak: dict[int, tuple[str, int]] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            tree = tree_rss(os.getpid())
            total = sum(kb for _, kb in tree.values()) / 1024
            for pid, (cmd, kb) in tree.items():
                if kb > per_pid_peak.get(pid, ("", 0))[1]:
                    per_pid_peak[pid] = (cmd, kb)
            if total > peak[0]:
                peak[0], at_peak[0] = total, tree

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    process.wait()
    wall = time.perf_counter() - start
    while True:  # the orphans (forkserver, workers) reparented here
        try:
            os.wait()
        except ChildProcessError:
            break
    done.set()
    thread.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"exit {process.returncode} wall {wall:.2f} cpu {usage.ru_utime + usage.ru_stime:.2f} "
        f"peak_mb {peak[0]:.0f}",
        flush=True,
    )
    if os.environ.get("MEASURE_DETAIL"):
        for pid, (cmd, kb) in sorted(at_peak[0].items()):
            print(f"  at peak {pid} {kb / 1024:.0f} MB {cmd}")
        for pid, (cmd, kb) in sorted(per_pid_peak.items()):
            print(f"  own peak {pid} {kb / 1024:.0f} MB {cmd}")


if __name__ == "__main__":
    main()
