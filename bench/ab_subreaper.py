"""`tipstats run` of a world folder through `run.py`'s harness, as subreaper and not, in turns.

    .venv/bin/python bench/ab_subreaper.py WORLD_FOLDER WORK_FOLDER PREFECT_HOME

Checks that counting the pool workers' CPU (the subreaper) does not slow the runs.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import run as bench
from proc_tree import PR_SET_CHILD_SUBREAPER

if __name__ == "__main__":
    world, work, prefect_home = (Path(a) for a in sys.argv[1:4])
    bench.WORK = work
    work.mkdir(parents=True, exist_ok=True)
    bench.RUN_ENV.update(os.environ, PREFECT_HOME=str(prefect_home))
    libc = ctypes.CDLL(None, use_errno=True)
    files = sorted(world.glob("*.csv"))
    home = work / "home"
    for subreaper in (True, False, True, False):
        libc.prctl(PR_SET_CHILD_SUBREAPER, int(subreaper), 0, 0, 0)
        bench.fresh_home(home, files)
        seconds, peak, cpu, _ = bench.run_once([bench.TIPSTATS, "run", "--home", str(home)])
        print(f"subreaper {subreaper}: {seconds:.1f} s, CPU {cpu:.1f} s, {peak:,.0f} MB")
