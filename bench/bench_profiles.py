"""The 200 country profiles of a world export: the row-wise code against the current one.

Builds the published report tables from a warehouse (read-only, as ``tipstats export`` does)
once and caches them in a pickle, then times ``exports._profiles`` in turns with an older
``profiles.py`` (``git show <commit>:src/tipstats/profiles.py > file``) and the current one,
CPU (``time.process_time``) next to wall time, and checks that every page is byte-identical:

    git show cd11e30:src/tipstats/profiles.py > /tmp/prof8/profiles_before.py
    .venv/bin/python bench/bench_profiles.py /tmp/s3/hw --before /tmp/prof8/profiles_before.py \\
        --cache /tmp/prof8/world_tables.pkl --runs 5
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import statistics
import time
from pathlib import Path

from tipstats import exports, profiles
from tipstats.codelists import load_codelists
from tipstats.disclosure import DisclosureConfig
from tipstats.exports import INPUT_TABLES, _with_region_names
from tipstats.home import Home
from tipstats.report_tables import BUILDERS, build_report_tables
from tipstats.warehouse import read_tables


def published_inputs(home: Path, cache: Path) -> tuple:
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    tables = read_tables(Home(home), [*BUILDERS, *INPUT_TABLES])
    codes, config = load_codelists(), DisclosureConfig()
    marts = {n: _with_region_names(tables[n], codes) for n in BUILDERS if tables.get(n) is not None}
    by_name = {t.name: t for t in build_report_tables(marts, config)}
    inputs = (by_name, codes, config)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(inputs))
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("profiles_before", args.before)
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    by_name, codes, config = published_inputs(args.home, args.cache)
    variants = {"before": before.country_profile, "after": profiles.country_profile}
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    pages = {}
    try:
        for _ in range(args.runs):
            for label, draw in variants.items():
                exports.country_profile = draw  # the name _profiles calls
                wall, cpu = time.perf_counter(), time.process_time()
                pages[label] = exports._profiles(by_name, codes, config)
                times[label].append((time.perf_counter() - wall, time.process_time() - cpu))
    finally:
        exports.country_profile = profiles.country_profile
    same = pages["before"] == pages["after"]
    print(f"{len(pages['after'])} pages, byte-identical: {same}")
    for label, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        shown = ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs)
        print(f"{label}: median wall {wall:.2f} s, CPU {cpu:.2f} s (wall/CPU per run: {shown})")
    if not same:
        raise SystemExit("pages differ")


if __name__ == "__main__":
    main()
