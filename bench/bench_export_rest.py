"""Where the world export's time and memory go, phase by phase (issue 8).

Usage (one fresh process per run; PYTHONPATH may point at another checkout's ``src``)::

    python bench/bench_export_rest.py HOME OUT [--cached PICKLE] [--save PICKLE]

Runs ``tipstats.exports.export_home(HOME, OUT)`` with its steps wrapped: for each step the wall
and CPU seconds it took in all, and the peak resident set during it (Linux: ``VmHWM`` of
``/proc/self/status``, reset before each step through ``/proc/self/clear_refs``). ``--save``
pickles the published tables (the output of the disclosure search); ``--cached`` loads them
instead of searching again, so that the rest of the export can be measured in seconds. Prints
one JSON line: the steps, the total wall / CPU seconds and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import functools
import json
import pickle
import resource
import time
from collections import defaultdict
from pathlib import Path


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return -1


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


STEPS: dict[str, dict[str, float]] = defaultdict(
    lambda: {"calls": 0, "wall": 0.0, "cpu": 0.0, "peak_mb": 0.0}
)
# Peak RSS of each step being run (innermost last) and of the whole process: each step resets
# the kernel's high-water mark, so the mark read so far is folded into the enclosing steps first.
_OPEN: list[float] = []
PROCESS_PEAK = [0.0]


def _fold(peak: float) -> None:
    _OPEN[:] = [max(p, peak) for p in _OPEN]
    PROCESS_PEAK[0] = max(PROCESS_PEAK[0], peak)


def _timed(name: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        _fold(_status("VmHWM"))
        _reset_peak()
        _OPEN.append(_status("VmRSS"))
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            _fold(_status("VmHWM"))
            peak = _OPEN.pop()
            step = STEPS[name]
            step["calls"] += 1
            step["wall"] += time.perf_counter() - wall
            step["cpu"] += time.process_time() - cpu
            step["peak_mb"] = max(step["peak_mb"], peak)
            step["rss_after_mb"] = _status("VmRSS")

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cached", type=Path)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()

    wall, cpu = time.perf_counter(), time.process_time()
    from tipstats import charts, exports, warehouse
    from tipstats.home import Home

    imported = time.perf_counter() - wall
    warehouse.read_tables = _timed("read_tables", warehouse.read_tables)
    search = exports.build_report_tables
    if args.cached:

        def search(marts, config):  # noqa: ARG001 - the cached result of the same search
            return pickle.loads(args.cached.read_bytes())

    def searched(marts, config):
        published = search(marts, config)
        if args.save:
            args.save.write_bytes(pickle.dumps(published))
        return published

    exports.build_report_tables = _timed("build_report_tables", searched)
    for name in ("_csv_bytes", "_parquet_bytes", "_profiles", "_with_region_names"):
        setattr(exports, name, _timed(name, getattr(exports, name)))
    exports.sdg_16_2_2_sdmx = _timed("sdg_16_2_2_sdmx", exports.sdg_16_2_2_sdmx)
    exports.report_workbook_bytes = _timed("report_workbook_bytes", exports.report_workbook_bytes)
    charts.to_png = _timed("charts.to_png", charts.to_png)
    # Steps that newer code may have (streaming writers); wrapped when present.
    for name in ("_write_csv", "_write_parquet", "_write_profiles", "_write_blob"):
        if hasattr(exports, name):
            setattr(exports, name, _timed(name, getattr(exports, name)))

    export_home = _timed("export_home", exports.export_home)
    result = export_home(Home(args.home), args.out)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "run_id": result.run_id,
                "import_s": round(imported, 2),
                "wall_s": round(time.perf_counter() - wall, 2),
                "cpu_s": round(time.process_time() - cpu, 2),
                "max_rss_mb": max(PROCESS_PEAK[0], _status("VmHWM"), usage.ru_maxrss // 1024),
                "steps": {
                    k: {m: round(v, 2) if isinstance(v, float) else v for m, v in s.items()}
                    for k, s in STEPS.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
