"""Time the MSE bootstrap: 1,000 resamples of a 6-list table, model selection repeated on each.

Usage: .venv/bin/python bench/bench_mse.py [--resamples 1000] [--seed 1234] [--data CSV]

Prints one line per run (wall time, estimate, interval) and exits 1 if a run exceeds the 60 s
budget of issue 9. The default table is the UK 2013 data (6 lists, 2,744 observed).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

from tipstats import mse

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mse" / "UKdat.csv"
BUDGET_SECONDS = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    table = mse.capture_table(pd.read_csv(args.data))
    print(
        f"{args.data.name}: {table.n_lists} lists, {table.observed:,} observed; "
        f"{args.resamples:,} resamples; python {platform.python_version()}, "
        f"{os.cpu_count()} cpus"
    )
    worst = 0.0
    for run in range(args.repeat):
        mse._check_support.cache_clear()  # time a cold start, as a fresh process would be
        start = time.perf_counter()
        result = mse.estimate_population(table, n_resamples=args.resamples, seed=args.seed)
        elapsed = time.perf_counter() - start
        worst = max(worst, elapsed)
        interval = result.interval
        print(
            f"run {run + 1}: {elapsed:.1f} s  estimate {result.estimate:,.1f}  "
            f"95% BCa [{interval.ci_low:,.0f}, {interval.ci_high:,.0f}]  "
            f"model {result.fit.model}  failed resamples {interval.n_failed}"
        )
    verdict = "OK" if worst < BUDGET_SECONDS else "TOO SLOW"
    print(f"worst {worst:.1f} s; budget {BUDGET_SECONDS:.0f} s: {verdict}")
    return 0 if worst < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
