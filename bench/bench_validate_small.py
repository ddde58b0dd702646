"""The per-file fixed cost of validation: median of N in-process validations of one file.

    .venv/bin/python bench/bench_validate_small.py FILE [--repeat 50]

Reads the file once, validates it once to warm the caches, then times ``validation.validate``
``--repeat`` times in the same process (no start-up, no reading) and prints one line.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tipstats import validation
from tipstats.codelists import load_codelists
from tipstats.readers import read_submission


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    codelists = load_codelists()
    parsed = read_submission(args.file)
    report = validation.validate(parsed, codelists)
    seconds = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = validation.validate(parsed, codelists)
        seconds.append(time.perf_counter() - start)
    ms = [s * 1000 for s in seconds]
    print(
        f"{args.file.name}: {len(parsed.frame):,} rows, {len(report.table)} problems; "
        f"median {statistics.median(ms):.1f} ms, min {min(ms):.1f} ms, max {max(ms):.1f} ms "
        f"({args.repeat} runs)"
    )


if __name__ == "__main__":
    main()
