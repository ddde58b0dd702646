"""Loading benchmark: `submit` file by file vs `submit_many` vs the DuckDB floor.

    python bench/bench_load.py [--countries 20] [--years 2005-2024] [--workers N] [--write]

Generates N synthetic national files (`tipstats generate-sample`'s library call), then times,
each in a fresh process (interpreter start and imports included):

- floor: DuckDB alone reads the CSV files (all columns as text) and writes one Parquet file;
- submit loop: `tipstats.warehouse.submit` per file, one process (what a loop or a flow does);
- submit_many, 1 worker: one lock and connection, validation in the same process;
- submit_many, N workers: validation in a process pool;
- one more file into the warehouse so built, with `tipstats submit FILE` (CLI, start-up included)
  and the marts rebuilt with `tipstats build`.

Checks that the three loads give the same warehouse (submissions and observations, timestamps
and paths aside). Prints a markdown section; ``--write`` also puts it into bench/results.md
(replacing an earlier one).

Storage alone (``--store-only``): validates the files once (in a pool, against an empty history;
cached in ``--checked``), then times ``submit_many`` (1 worker) with validation replaced by
replaying those checked files, so that what is timed is hashing, raw copies and the warehouse
writes. ``--base-src`` runs the same with another checkout's ``src`` (e.g. a ``git worktree`` of
an older commit) in turns with this one, ``--runs`` times each:

    python bench/bench_load.py --store-only --files /tmp/world --checked /tmp/checked.pkl \
        --base-src /tmp/base/src --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
SECTION = "## Loading: `submit` per file vs `submit_many` (bench/bench_load.py)"
PYTHON = sys.executable
TIPSTATS = str(Path(sys.executable).parent / "tipstats")

FLOOR = """
import sys, duckdb
source, target = sys.argv[1], sys.argv[2]
query = f"SELECT * FROM read_csv('{source}/*.csv', header=true, all_varchar=true)"
duckdb.sql(f"COPY ({query}) TO '{target}' (FORMAT parquet)")
"""

LOOP = """
import sys
from pathlib import Path
from tipstats.home import resolve_home
from tipstats.warehouse import submit
home = resolve_home(sys.argv[2]).ensure()
for path in sorted(Path(sys.argv[1]).glob("*.csv")):
    submit(path, home)
"""

MANY = """
import sys
from pathlib import Path
from tipstats.home import resolve_home
from tipstats.warehouse import submit_many
home = resolve_home(sys.argv[2]).ensure()
submit_many([Path(sys.argv[1])], home, workers=int(sys.argv[3]))
"""


# Where the time of one file goes: the steps timed by wrapping them, in one process.
PHASES = """
import collections, json, sys, time
from pathlib import Path
from tipstats import checking, validation
from tipstats import warehouse as W
from tipstats.home import resolve_home

spent = collections.Counter()

def timed(module, name, label):
    real = getattr(module, name)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - start
    setattr(module, name, wrapper)

timed(checking, "read_file", "read the file")
timed(validation, "validate", "validate (schemas, codes, identities, plausibility)")
timed(checking, "write_report", "write the report (CSV + HTML)")
timed(W, "current_for", "query the history (current observations of the country)")
timed(W, "_write", "store: the transactions (submission rows, close + insert cells, commit)")
timed(W, "_connect", "open the DuckDB file")
timed(W, "create_schema", "create/check the schema")
timed(W, "load_reference", "(within store) check the reference tables")
files = sorted(Path(sys.argv[1]).glob("*.csv"))[: int(sys.argv[3])]
home = resolve_home(sys.argv[2]).ensure()
start = time.perf_counter()
if sys.argv[4] == "loop":
    for path in files:
        W.submit(path, home)
else:
    W.submit_many(files, home, workers=1)
total = time.perf_counter() - start
rest = total - sum(v for k, v in spent.items() if not k.startswith("(within"))
spent["everything else (lock, hashing, raw copy, closing DuckDB...)"] = rest
spent["total"] = total
print(json.dumps({k: 1000 * v / len(files) for k, v in spent.items()}))
"""


def phases(files: Path, work: Path, n: int) -> list[str]:
    """A table: milliseconds per file in each step, submit per file vs submit_many (1 worker)."""
    found = {}
    for mode in ("loop", "many"):
        done = subprocess.run(
            [PYTHON, "-c", PHASES, str(files), str(work / f"phases_{mode}"), str(n), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        found[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    steps = sorted(found["loop"], key=lambda k: -found["loop"][k] if k != "total" else 0)
    lines = [
        f"Where the time of one file goes (ms per file, the first {n} files, one process, "
        "steps timed by wrapping them):",
        "",
        "| step | `submit` per file | `submit_many`, 1 worker |",
        "|---|---|---|",
    ]
    for step in steps:
        loop, many = found["loop"].get(step, 0.0), found["many"].get(step, 0.0)
        lines.append(f"| {step} | {loop:.1f} | {many:.1f} |")
    return lines


# Validate once, keep the checked files: the storage benchmark replays them.
PRECHECK = """
import pickle, sys
from pathlib import Path
import pandas as pd
from tipstats import checking
from tipstats import columns as C

if __name__ == "__main__":  # the pool's forkserver imports this script again
    files = sorted(Path(sys.argv[1]).glob("*.csv"))
    jobs = [checking.Job(i, p, i + 1) for i, p in enumerate(files)]
    empty = lambda countries: pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS))
    checked = list(checking.check_in_pool(jobs, empty, Path(sys.argv[3]), int(sys.argv[4])))
    with open(sys.argv[2], "wb") as handle:
        pickle.dump(checked, handle)
"""

# submit_many with validation replaced by the checked files of PRECHECK: storage alone.
STORE = """
import json, pickle, sys, time
from pathlib import Path
from tipstats import checking
from tipstats import warehouse as W
from tipstats.home import Home

files_dir, checked_path, home_dir = sys.argv[1:4]
with open(checked_path, "rb") as handle:
    cached = {c.index: c for c in pickle.load(handle)}
spent = {"write": 0.0}

def replay(jobs, history, reports_dir, codelists):
    for job in jobs:
        done = cached[job.index]
        assert done.submission_id == job.submission_id
        yield done

checking.check_in_order = replay
# the warehouse writes: one transaction per batch (now) or per file (before)
name = "_write" if hasattr(W, "_write") else "_store_isolated"
real = getattr(W, name)
def timed(*args, **kwargs):
    start = time.perf_counter()
    try:
        return real(*args, **kwargs)
    finally:
        spent["write"] += time.perf_counter() - start
setattr(W, name, timed)
files = sorted(Path(files_dir).glob("*.csv"))
wall, cpu = time.perf_counter(), time.process_time()
results = W.submit_many(files, Home(Path(home_dir)), workers=1)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
statuses = sorted({r.status for r in results})
print(json.dumps({"files": len(results), "wall": wall, "cpu": cpu, **spent, "statuses": statuses}))
"""


def store_only(args: argparse.Namespace) -> None:
    """Time the storage of already checked files: this checkout, and ``--base-src`` in turns."""
    import statistics

    work = Path(tempfile.mkdtemp(prefix="tipstats-bench-store-"))
    try:
        if args.files:
            files = Path(args.files)
        else:
            from tipstats.sample_files import generate_sample_files
            from tipstats.synthetic import parse_years

            chosen = int(args.countries) if args.countries.isdigit() else args.countries.split(",")
            files = work / "files"
            generate_sample_files(files, chosen, parse_years(args.years), args.seed)
        n_files = len(list(files.glob("*.csv")))
        checked = Path(args.checked) if args.checked else work / "checked.pkl"
        if not checked.exists():
            start = time.perf_counter()
            subprocess.run(
                [
                    PYTHON,
                    "-c",
                    PRECHECK,
                    str(files),
                    str(checked),
                    str(work / "reports"),
                    str(args.workers),
                ],
                check=True,
            )
            print(
                f"validated {n_files} files in {time.perf_counter() - start:.0f} s", file=sys.stderr
            )
        sides = {"this checkout": None}
        if args.base_src:
            sides = {f"base ({args.base_src})": args.base_src, **sides}
        found: dict[str, list[dict]] = {label: [] for label in sides}
        loads = []
        for n in range(args.runs):
            for label, src in sides.items():
                home = work / f"home_{n}_{len(found[label])}_{src is None}"
                env = {**os.environ}
                if src:
                    env["PYTHONPATH"] = src
                loads.append(os.getloadavg()[0])
                done = subprocess.run(
                    [PYTHON, "-c", STORE, str(files), str(checked), str(home)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=env,
                )
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                found[label].append(figures)
                print(f"{label} run {n + 1}: {figures}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Storage alone, {n_files} files, {args.runs} runs each in turns (median; min-max); "
        f"load average 1 min at the starts {min(loads):.1f} to {max(loads):.1f}:",
        "",
        "| code | wall s | wall ms/file | CPU s | CPU ms/file | in warehouse writes s |",
        "|---|---|---|---|---|---|",
    ]
    for label, runs in found.items():
        wall = [r["wall"] for r in runs]
        cpu = [r["cpu"] for r in runs]
        write = [r["write"] for r in runs]
        lines.append(
            f"| {label} | {statistics.median(wall):.1f} ({min(wall):.1f}-{max(wall):.1f}) "
            f"| {1000 * statistics.median(wall) / n_files:.1f} "
            f"| {statistics.median(cpu):.1f} ({min(cpu):.1f}-{max(cpu):.1f}) "
            f"| {1000 * statistics.median(cpu) / n_files:.1f} "
            f"| {statistics.median(write):.1f} |"
        )
    print("\n".join(lines))


def run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds of a fresh process, its CPU seconds (user + system) and the peak resident
    memory (MB) of it or any of its descendants (``wait4``: the kernel folds reaped descendants
    into the child's figures)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in (0, 1):
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{argv[:3]} failed ({child.returncode}):\n{tail}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def python(script: str, *args: str) -> list[str]:
    return [PYTHON, "-c", script, *args]


def snapshot(home: Path) -> tuple[list, list]:
    import duckdb

    with duckdb.connect(str(home / "warehouse" / "tipstats.duckdb"), read_only=True) as con:
        observations = con.execute(
            "select * exclude (valid_from, valid_to), valid_to is null from observations "
            "order by all"
        ).fetchall()
        submissions = con.execute(
            "select * exclude (received_at, raw_path, report_path) from submissions order by all"
        ).fetchall()
    return observations, submissions


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{cpu}; {os.cpu_count()} CPUs; load average before the run {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--countries", default="20")
    parser.add_argument("--years", default="2005-2024")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--write", action="store_true", help="put the section in results.md")
    parser.add_argument("--store-only", action="store_true", help="time storage alone")
    parser.add_argument("--files", help="--store-only: a folder of files instead of generating")
    parser.add_argument("--checked", help="--store-only: the cache of checked files (a pickle)")
    parser.add_argument("--base-src", help="--store-only: also time this src folder, in turns")
    parser.add_argument("--runs", type=int, default=3, help="--store-only: runs of each")
    args = parser.parse_args()
    if args.store_only:
        store_only(args)
        return

    from tipstats.sample_files import generate_sample_files
    from tipstats.synthetic import parse_years

    chosen: int | list[str] = (
        int(args.countries) if args.countries.isdigit() else args.countries.split(",")
    )
    years = parse_years(args.years)
    where_before = machine()
    work = Path(tempfile.mkdtemp(prefix="tipstats-bench-load-"))
    try:
        files = work / "files"
        generated = generate_sample_files(files, chosen, years, args.seed)
        n_files = len(generated.paths)
        n_rows = generated.n_rows
        print(f"{n_files} files, {n_rows} rows in {files}", file=sys.stderr)
        # the next year of the first country: the one-submission workload
        extra = work / "extra"
        first = generated.countries[:1]
        more = generate_sample_files(extra, first, [*years, years[-1] + 1], args.seed)
        new_file = next(p for p in more.paths if p.name.endswith(f"_{years[-1] + 1}.csv"))

        rows: list[tuple[str, float, float, float]] = []

        def measure(label: str, argv: list[str]) -> float:
            seconds, cpu, peak = run(argv)
            rows.append((label, seconds, cpu, peak))
            print(f"{label}: {seconds:.2f} s, {cpu:.2f} s CPU, {peak:.0f} MB", file=sys.stderr)
            return seconds

        floor = measure(
            "floor: DuckDB CSV -> Parquet", python(FLOOR, str(files), str(work / "floor.parquet"))
        )
        homes = {name: work / name for name in ("loop", "many1", "manyN")}
        loop = measure("`submit` per file (before)", python(LOOP, str(files), str(homes["loop"])))
        many1 = measure(
            "`submit_many`, 1 worker", python(MANY, str(files), str(homes["many1"]), "1")
        )
        manyn = measure(
            f"`submit_many`, {args.workers} workers",
            python(MANY, str(files), str(homes["manyN"]), str(args.workers)),
        )
        same = snapshot(homes["loop"]) == snapshot(homes["many1"]) == snapshot(homes["manyN"])
        breakdown = phases(files, work, min(n_files, 100))
        start = measure("`tipstats --help` (CLI start-up)", [TIPSTATS, "--help"])
        one = measure(
            "one more file: `tipstats submit FILE`",
            [TIPSTATS, "submit", str(new_file), "--home", str(homes["manyN"])],
        )
        build = measure("then `tipstats build`", [TIPSTATS, "build", "--home", str(homes["manyN"])])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        SECTION,
        "",
        f"Command: `python bench/bench_load.py --countries {args.countries} --years {args.years}"
        f" --workers {args.workers}`",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {n_files} synthetic files "
        f"({n_rows:,} rows; {args.countries} countries x {args.years}); {where_before}. "
        "One run each, a fresh process each (interpreter start and imports included); "
        "CPU s is user + system time of the process and its workers (a shared machine "
        "slows wall time more than CPU time).",
        "",
        "| measurement | wall s | per file ms | / floor | CPU s | peak MB |",
        "|---|---|---|---|---|---|",
    ]
    for label, seconds, cpu, peak in rows:
        per_file = f"{1000 * seconds / n_files:.0f}" if "file:" not in label else ""
        ratio = f"{seconds / floor:.1f}" if label.startswith(("`submit", "floor")) else ""
        if "tipstats" in label:
            per_file = ""
        lines.append(f"| {label} | {seconds:.2f} | {per_file} | {ratio} | {cpu:.1f} | {peak:.0f} |")
    lines += [
        "",
        f"- submit_many, 1 worker vs submit per file: {loop / many1:.2f}x faster; "
        f"{args.workers} workers: {loop / manyn:.2f}x faster.",
        f"- one more file: {one:.1f} s for `tipstats submit` ({start:.1f} s of it is the CLI "
        f"start-up) + {build:.1f} s for `tipstats build` = {one + build:.1f} s (target < 10 s).",
        f"- the three loads give the same submissions and observations: {same}.",
        "- CPU s of `submit_many` with workers counts the calling process only: the workers are "
        "children of the forkserver, whose time the kernel does not fold in.",
        "",
        *breakdown,
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
        if SECTION in old:
            head, rest = old.split(SECTION, 1)
            tail = rest.split("\n## ", 1)
            old = head.rstrip() + ("\n\n## " + tail[1] if len(tail) > 1 else "")
        RESULTS.write_text(old.rstrip() + "\n\n" + text, encoding="utf-8")


if __name__ == "__main__":
    main()
