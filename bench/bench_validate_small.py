"""The per-file fixed cost of validation: median of N in-process validations of one file.

    .venv/bin/python bench/bench_validate_small.py FILE [--repeat 50]

Reads the file once, validates it once to warm the caches, then times ``validation.validate``
``--repeat`` times in the same process (no start-up, no reading) and prints one line. The CPU
time of the process is printed too: on a shared machine it varies less than the wall time.
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
    seconds, cpu_seconds = [], []
    for _ in range(args.repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        report = validation.validate(parsed, codelists)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
    ms = [s * 1000 for s in seconds]
    cpu_ms = statistics.median(cpu_seconds) * 1000
    print(
        f"{args.file.name}: {len(parsed.frame):,} rows, {len(report.table)} problems; "
        f"median {statistics.median(ms):.1f} ms, min {min(ms):.1f} ms, max {max(ms):.1f} ms, "
        f"median CPU {cpu_ms:.1f} ms ({args.repeat} runs)"
    )


if __name__ == "__main__":
    main()
