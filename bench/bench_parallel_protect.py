"""The country table of a home protected in process and in the pool: same table, and the time.

    .venv/bin/python bench/bench_parallel_protect.py <home> [--workers 2] [--save DIR]

Reads ``sdg_16_2_2`` (read-only), builds ``report_tables.country_table`` once in this process
(``disclosure_parallel`` told that no table is worth splitting) and once in chunks in the pool
(the pool started before the clock, as in ``tipstats run`` after the ingest), checks that the
published frames are identical and the audits give the same verdicts, and prints wall and CPU
seconds of each (CPU of this process; in the pool, the workers' CPU is not in it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", type=Path, help="write both tables and audits as Parquet here")
    args = parser.parse_args()

    import pandas as pd

    from tipstats import checking, disclosure_parallel, report_tables
    from tipstats.disclosure import DisclosureConfig
    from tipstats.home import Home
    from tipstats.warehouse import read_tables

    mart = read_tables(Home(args.home), ["sdg_16_2_2"])["sdg_16_2_2"]
    mart = mart.drop(columns=[c for c in report_tables.UNPUBLISHED if c in mart.columns])
    config = DisclosureConfig()
    tables = {}
    for how in ("in_process", "pool"):
        if how == "pool":
            pool = checking.shared_pool(args.workers)
            list(pool.map(abs, range(args.workers)))  # workers started, as after an ingest
        minimum = disclosure_parallel.MIN_ROWS_PER_WORKER
        if how == "in_process":
            disclosure_parallel.MIN_ROWS_PER_WORKER = 10**12
        wall, cpu = time.perf_counter(), time.process_time()
        tables[how] = report_tables.country_table(mart, config)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        disclosure_parallel.MIN_ROWS_PER_WORKER = minimum
        print(f"{how}: {len(tables[how].frame)} rows, wall {wall:.2f} s, CPU {cpu:.2f} s")
    plain, pooled = tables["in_process"], tables["pool"]
    pd.testing.assert_frame_equal(pooled.frame, plain.frame)
    verdicts = ["cell", "flag", "exposed"]
    pd.testing.assert_frame_equal(pooled.audit[verdicts], plain.audit[verdicts])
    print(f"identical published table; same audit verdicts ({len(plain.audit)} cells checked)")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for how, table in tables.items():
            table.frame.to_parquet(args.save / f"country_table_{how}.parquet")
            table.audit.to_parquet(args.save / f"country_table_{how}.audit.parquet")


if __name__ == "__main__":
    main()
