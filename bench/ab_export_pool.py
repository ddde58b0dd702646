"""A fresh `tipstats export` with the country table split over the pool, or all in process.

    /usr/bin/time .venv/bin/python bench/ab_export_pool.py pool|inproc HOME OUT

``inproc`` tells ``disclosure_parallel`` that no table is worth splitting; run the two in turns
(figures in ``bench/notes_parallel_protect.md``).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # the pool's forkserver imports this module again
    from tipstats import disclosure_parallel

    mode, home, out = sys.argv[1:4]
    if mode == "inproc":
        disclosure_parallel.MIN_ROWS_PER_WORKER = 1 << 60
    from tipstats.cli.app import main

    sys.argv = ["tipstats", "export", "--home", home, "--out", out]
    main()
