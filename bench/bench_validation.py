"""Benchmark: validate a 100,000-row template file in-process (budget: under 2 s).

Writes a template CSV into a temporary folder (``--file`` to use your own, e.g. the output of
``tipstats generate-sample``), reads it once with ``tipstats.readers`` (or plain pandas when the
readers are not installed), then times ``tipstats.validation.validate`` on the parsed file.

    .venv/bin/python bench/bench_validation.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import itertools
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.report_frame import empty_report
from tipstats.validation import validate

BUDGET_SECONDS = 2.0


def make_template(path: Path, rows: int) -> Path:
    """One country's cells, years x indicators x sex x age x forms x citizenship, with parts
    that add up to their totals, some `<5` and thousands written `1,282`."""
    codelists = load_codelists()
    dims = {
        C.YEAR: [str(y) for y in range(2000, 2026)],
        C.INDICATOR: codelists.codes("indicator")[:5],
        C.SEX: codelists.codes("sex"),
        C.AGE: codelists.codes("age"),
        C.EXPLOITATION: codelists.codes("exploitation"),
        C.CITIZENSHIP: codelists.codes("citizenship"),
    }
    keys = list(itertools.islice(itertools.product(*dims.values()), rows))
    frame = pd.DataFrame(keys, columns=list(dims))
    share = np.ones(len(frame))
    for dimension in (C.SEX, C.AGE, C.EXPLOITATION, C.CITIZENSHIP):
        n = len(dims[dimension]) - 1  # the parts, without the total
        part = frame[dimension] != C.TOTAL
        share = np.where(part, share / n, share)
    # multiples of 4 x 3 x 10 x 3 (the parts of each breakdown), so that parts add up exactly
    base = frame.groupby([C.YEAR, C.INDICATOR]).ngroup().map(lambda g: 360 * (1 + g % 25))
    values = np.floor(base.to_numpy() * share).astype(int)
    text = pd.Series(values.astype(str))
    text = text.mask(values < 5, "<5")
    big = values >= 1000
    text = text.mask(big, pd.Series([f"{v:,}" for v in values])[big])
    frame[C.VALUE] = text
    frame[C.COUNTRY] = "NLD"
    frame[C.STATUS] = ""
    frame[C.SOURCE] = "POLICE"
    frame[C.COMMENT] = ""
    frame = frame[list(C.TEMPLATE_COLUMNS)]
    frame.to_csv(path, index=False)
    return path


@dataclass
class _Parsed:
    frame: pd.DataFrame
    layout: str = "template"
    problems: pd.DataFrame | None = None


def read(path: Path):
    try:
        from tipstats.readers import read_submission
    except ImportError:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame[C.SOURCE_ROW] = range(2, len(frame) + 2)
        return _Parsed(frame, problems=empty_report()), "pandas.read_csv (readers not installed)"
    return read_submission(path), "tipstats.readers.read_submission"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--file", type=Path, default=None, help="validate this file instead")
    args = parser.parse_args()
    codelists = load_codelists()
    with tempfile.TemporaryDirectory() as folder:
        path = args.file or make_template(Path(folder) / "bench_template.csv", args.rows)
        started = time.perf_counter()
        parsed, reader = read(path)
        read_seconds = time.perf_counter() - started
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            report = validate(parsed, codelists)
            timings.append(time.perf_counter() - started)
    print(f"python {platform.python_version()}, {platform.machine()}, reader: {reader}")
    print(f"rows: {len(parsed.frame):,}; read: {read_seconds:.2f} s")
    print("validate: " + ", ".join(f"{t:.2f} s" for t in timings))
    print(f"accepted: {report.accepted}; problems by rule:")
    print(report.counts_by_rule().to_string(index=False))
    best = min(timings)
    verdict = "within" if best < BUDGET_SECONDS else "OVER"
    print(f"best {best:.2f} s: {verdict} the {BUDGET_SECONDS:.0f} s budget")


if __name__ == "__main__":
    main()
