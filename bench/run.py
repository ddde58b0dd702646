"""Benchmarks of issue 8: world scale, one submission, validation against peers, scaling.

    .venv/bin/python bench/run.py [--quick] [--repeat N]

Generates the workloads with ``tipstats generate-sample`` into ``bench/work/`` (git-ignored), runs
each measurement several times as a subprocess (wall time; peak RSS of the process tree from
``os.wait4``) and writes ``bench/results.md``. Every comparison is a ratio of two measurements of
the same run on the same machine. A stage whose code does not exist yet (``tipstats run``, the
peers) is reported as "not available yet" instead of failing, so a later session completes it by
running this script again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from proc_tree import become_subreaper, reap_orphans, tree_rss_mb

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "work"
PYTHON = sys.executable
TIPSTATS = str(Path(sys.executable).parent / "tipstats")
FRICTIONLESS = str(Path(sys.executable).parent / "frictionless")
SEED = 1
VALIDATION_YEARS = "2005-2024"  # the world's years: enough rows for the validation file
LIBRARIES = (
    "numpy",
    "pandas",
    "pandera",
    "duckdb",
    "pyarrow",
    "prefect",
    "typer",
    "frictionless",
    "great_expectations",
)


@dataclass(frozen=True)
class Scale:
    countries: int
    first_year: int
    last_year: int
    validation_rows: int
    validation_countries: int  # the validation file repeats this world under unused sources
    repeat: int

    @property
    def years(self) -> str:
        return f"{self.first_year}-{self.last_year}"


FULL = Scale(200, 2005, 2024, validation_rows=1_000_000, validation_countries=200, repeat=3)
QUICK = Scale(8, 2022, 2024, validation_rows=100_000, validation_countries=60, repeat=2)


@dataclass
class Measurement:
    name: str
    what: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    status: str = "ok"  # ok | not available yet | peer not installed | failed
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")


# --- running and measuring ----------------------------------------------------------------------
def run_once(argv: list[str], *, expect: tuple[int, ...] = (0,)) -> tuple[float, float, float, str]:
    """Wall seconds, peak memory (MB), CPU seconds and stderr tail of one run.

    CPU seconds are user + system time of the process and all its descendants: those it waited
    for (the Prefect server) and, where this process is a subreaper (Linux), the pool workers
    and forkserver left behind, reaped here.

    Peak memory is the largest SUM of the resident sets of the process and all its descendants
    alive at the same moment (sampled every 0.1 s: the Prefect server, pool workers), or the
    largest single resident set the kernel saw (``ru_maxrss``) if that is larger.
    """
    log = WORK / "last_stderr.txt"
    with log.open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env=RUN_ENV or None
        )
        sampler = TreeMemory(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        orphans_cpu = reap_orphans()
        sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    tail = log.read_text(errors="replace")[-600:]
    if process.returncode not in expect:
        raise RuntimeError(f"exit {process.returncode}: {' '.join(argv[:3])}...\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime + orphans_cpu
    return seconds, max(usage.ru_maxrss / 1024, sampler.peak_mb), cpu, tail  # ru_maxrss: KiB


RUN_ENV: dict[str, str] = {}  # the environment of measured runs; empty = this process's


class TreeMemory(threading.Thread):
    """Samples the summed resident set of a process tree from /proc (Linux; 0 elsewhere)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mb = 0.0
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.wait(0.1):
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))

    def stop(self) -> None:
        self._finished.set()
        self.join()


def measure(
    name: str,
    what: str,
    argv: list[str],
    repeat: int,
    *,
    setup=None,
    expect: tuple[int, ...] = (0,),
) -> Measurement:
    result = Measurement(name, what)
    for i in range(repeat):
        if setup is not None:
            setup(i)
        try:
            seconds, peak, cpu, _ = run_once(argv, expect=expect)
        except RuntimeError as problem:
            result.status, result.note = "failed", str(problem).splitlines()[0]
            log(f"  {name}: failed\n{problem}")
            return result
        result.seconds.append(seconds)
        result.cpu.append(cpu)
        result.peak_mb = max(result.peak_mb, peak)
        log(f"  {name} run {i + 1}/{repeat}: {seconds:.2f} s, {peak:.0f} MB")
    return result


def unavailable(name: str, what: str, status: str, note: str) -> Measurement:
    log(f"  {name}: {status} ({note})")
    return Measurement(name, what, status=status, note=note)


def log(message: str) -> None:
    print(message, flush=True)


def python_can_import(module: str) -> tuple[bool, str]:
    probe = subprocess.run(
        [PYTHON, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT
    )
    lines = probe.stderr.strip().splitlines()
    return probe.returncode == 0, (lines[-1] if lines else "")


# --- workloads ----------------------------------------------------------------------------------
def generate(countries: int, scale: Scale, out: Path, years: str | None = None) -> Measurement:
    years = years or scale.years
    if out.exists():
        shutil.rmtree(out)
    argv = [TIPSTATS, "generate-sample", "--countries", str(countries), "--years", years]
    argv += ["--seed", str(SEED), "--out", str(out)]
    return measure(
        f"generate {countries} countries",
        f"`tipstats generate-sample` of {countries} countries x {years} (CSV)",
        argv,
        1,
    )


FLOOR_SCRIPT = """
import sys, duckdb
source, target = sys.argv[1], sys.argv[2]
query = f"SELECT * FROM read_csv('{source}/*.csv', header=true, all_varchar=true)"
duckdb.sql(f"COPY ({query}) TO '{target}' (FORMAT parquet)")
"""


def floor(folder: Path, label: str, repeat: int) -> Measurement:
    target = WORK / f"floor_{label}.parquet"
    return measure(
        f"floor {label}",
        f"DuckDB alone: read the {label} CSV files (all columns as text), write one Parquet file",
        [PYTHON, "-c", FLOOR_SCRIPT, str(folder), str(target)],
        repeat,
    )


SUBMIT_SCRIPT = """
import sys
from tipstats.home import resolve_home
from tipstats.warehouse import submit
home = resolve_home(sys.argv[1]).ensure()
for path in sorted(home.inbox.iterdir()):
    submit(path, home)
"""


def ingest_command(home: Path) -> tuple[list[str] | None, str, str]:
    """How to load an inbox: ``tipstats run`` once the flows exist, else the library's
    ``submit`` file by file (load only: marts and exports not measured), else nothing."""
    ok, reason = python_can_import("flows.pipeline")
    if ok:
        return [TIPSTATS, "run", "--home", str(home)], "`tipstats run`", ""
    ok_submit, reason_submit = python_can_import("tipstats.warehouse")
    if ok_submit:
        what = "`tipstats.warehouse.submit` per file (LOAD ONLY: `tipstats run` not available yet)"
        return [PYTHON, "-c", SUBMIT_SCRIPT, str(home)], what, f"load only; {reason}"
    return None, "", reason or reason_submit


def fresh_home(folder: Path, files: list[Path], template: Path | None = None) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    if template is not None:
        shutil.copytree(template, folder)
    inbox = folder / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, inbox / path.name)
    return folder


def world_pipeline(folder: Path, label: str, repeat: int) -> tuple[Measurement, Path | None]:
    home = WORK / f"home_{label}"
    argv, how, reason = ingest_command(home)
    what = f"the {label} files from inbox to exports (validate, load, marts, export)"
    if argv is None:
        return unavailable(f"pipeline {label}", what, "not available yet", reason), None
    files = sorted(folder.glob("*.csv"))
    result = measure(
        f"pipeline {label}",
        f"{how}: the {label} files from the inbox",
        argv,
        repeat,
        setup=lambda i: fresh_home(home, files),
    )
    result.note = reason
    return result, (home if result.ok else None)


def world_commands(folder: Path, label: str, repeat: int) -> Measurement:
    """The same work as the pipeline typed as three commands, without the orchestrator:
    what the world costs tipstats itself, apart from Prefect's server and flow runs."""
    name = f"commands {label}"
    what = (
        f"the {label} files by `tipstats submit FOLDER`, `tipstats build`, `tipstats export` "
        "(the pipeline's work without Prefect)"
    )
    home = WORK / f"home_commands_{label}"
    script = " && ".join(
        f'"{TIPSTATS}" {command} --home "{home}" > /dev/null'
        for command in (f'submit "{folder}"', "build", "export")
    )
    return measure(name, what, ["sh", "-c", script], repeat, setup=lambda i: fresh_home(home, []))


def one_submission(world_home: Path | None, scale: Scale, repeat: int) -> Measurement:
    what = "one new national file into the world-sized warehouse: validate, load, rebuild marts"
    if world_home is None:
        return unavailable("one submission", what, "not available yet", "needs the world pipeline")
    # the next year of the first world country: a typical file, consistent with its series
    extra = WORK / "one_submission"
    if extra.exists():
        shutil.rmtree(extra)
    first = sorted((WORK / "world_full").glob("*.csv"))[0].name.split("_")[0]
    argv = [TIPSTATS, "generate-sample", "--countries", first]
    argv += ["--years", f"{scale.first_year}-{scale.last_year + 1}", "--seed", str(SEED)]
    run_once([*argv, "--out", str(extra)])
    new_file = extra / f"{first}_{scale.last_year + 1}.csv"
    home = WORK / "home_one_submission"
    argv, how, reason = ingest_command(home)
    result = measure(
        "one submission",
        f"{what}: {how}, one file in the inbox",
        argv,
        repeat,
        setup=lambda i: fresh_home(home, [new_file], template=world_home),
    )
    result.note = reason
    return result


def one_submission_cli(world_home: Path | None, repeat: int) -> Measurement:
    """The same new file with the two commands an analyst would type, without the orchestrator
    (no Prefect start-up, no exports): ``tipstats submit FILE`` then ``tipstats build``."""
    what = "the same new file: `tipstats submit FILE`, then `tipstats build` (no Prefect/exports)"
    name = "one submission: submit + build"
    new_files = sorted((WORK / "one_submission").glob("*.csv"))
    if world_home is None or not new_files:
        return unavailable(name, what, "not available yet", "needs the world pipeline")
    home = WORK / "home_one_submission_cli"
    new_file = max(new_files)
    script = (
        f'"{TIPSTATS}" submit "{new_file}" --home "{home}" > /dev/null && '
        f'"{TIPSTATS}" build --home "{home}" > /dev/null'
    )
    return measure(
        name,
        what,
        ["sh", "-c", script],
        repeat,
        setup=lambda i: fresh_home(home, [], template=world_home),
    )


# --- validation against peers -------------------------------------------------------------------
def validation_file(world: Path, rows: int) -> Path:
    """``rows`` template rows: the world files, copied under sources the world does not use so
    that every key stays unique (a file of many countries: our validator also reports
    `country.multiple` once per extra country, the peers have no such rule)."""
    import pandas as pd

    from tipstats.codelists import load_codelists

    target = WORK / f"validation_{rows}_{world.name}.csv"
    if target.exists():
        return target
    frame = pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(world.glob("*.csv"))],
        ignore_index=True,
    )
    unused = [s for s in load_codelists().codes("source") if s not in set(frame["source"])]
    copies = [frame] + [frame.assign(source=source) for source in unused]
    big = pd.concat(copies, ignore_index=True)
    if len(big) < rows:
        raise RuntimeError(f"the world workload gives only {len(big):,} rows, {rows:,} asked")
    big.head(rows).to_csv(target, index=False)
    return target


def allowed_values() -> dict[str, list[str]]:
    """Every code and label our validator accepts in each coded column (the peers' enums)."""
    from tipstats import columns as C
    from tipstats.codelists import load_codelists

    codelists = load_codelists()
    allowed: dict[str, list[str]] = {}
    for dimension in C.CODED_DIMENSIONS:
        table = codelists.table(dimension)
        variants = codelists.code_map.loc[codelists.code_map["dimension"] == dimension, "label"]
        values = [*table["code"], *table["label_en"], *table["label_fr"], *table["label_es"]]
        allowed[dimension] = sorted(set(values) | set(variants))
    iso3 = sorted(codelists.countries["iso3"])
    allowed[C.CITIZENSHIP] = sorted(set(allowed[C.CITIZENSHIP]) | set(iso3))
    allowed[C.COUNTRY] = iso3
    return allowed


VALUE_PATTERN = r"^(\d+|<\s*5)?$"


def table_schema(path: Path) -> Path:
    """A Frictionless Table Schema equivalent to our template rules (as far as it can say)."""
    from tipstats import columns as C

    allowed = allowed_values()
    fields = []
    for column in C.TEMPLATE_COLUMNS:
        spec: dict = {"name": column, "type": "string", "constraints": {}}
        if column in C.TEMPLATE_REQUIRED and column != C.VALUE:
            spec["constraints"]["required"] = True
        if column in allowed:
            spec["constraints"]["enum"] = allowed[column]
        if column == C.YEAR:
            spec = {"name": column, "type": "integer"}
            spec["constraints"] = {
                "required": True,
                "minimum": 2000,
                "maximum": dt.date.today().year,
            }
        if column == C.VALUE:
            spec["constraints"]["pattern"] = VALUE_PATTERN
        fields.append(spec)
    schema = {"fields": fields, "primaryKey": list(C.OBSERVATION_KEY), "missingValues": [""]}
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


VALIDATE_SCRIPT = """
import sys
from pathlib import Path
from tipstats.reports import validate_file
result = validate_file(Path(sys.argv[1]), Path(sys.argv[2]))
sys.exit(0 if result.report.accepted else 1)
"""

GX_SCRIPT = """
import json, sys
import pandas as pd
import great_expectations as gx
path, spec = sys.argv[1], json.loads(open(sys.argv[2]).read())
frame = pd.read_csv(path, dtype=str, keep_default_na=False)
context = gx.get_context(mode="ephemeral")
batch = (
    context.data_sources.add_pandas("bench")
    .add_dataframe_asset("submission")
    .add_batch_definition_whole_dataframe("all")
    .get_batch(batch_parameters={"dataframe": frame})
)
suite = gx.ExpectationSuite(name="template")
E = gx.expectations
for column in spec["required"]:
    suite.add_expectation(E.ExpectColumnValuesToNotBeNull(column=column))
for column, values in spec["allowed"].items():
    suite.add_expectation(E.ExpectColumnValuesToBeInSet(column=column, value_set=values))
suite.add_expectation(E.ExpectColumnValuesToMatchRegex(column="value", regex=spec["value"]))
suite.add_expectation(E.ExpectColumnValuesToMatchRegex(column="year", regex=r"^\\d{4}$"))
suite.add_expectation(E.ExpectCompoundColumnsToBeUnique(column_list=spec["key"]))
result = batch.validate(suite)
print(json.dumps({"success": bool(result.success)}))
"""


@dataclass
class Run:
    """One command to measure: name, description, argv, accepted exit codes."""

    name: str
    what: str
    argv: list[str]
    expect: tuple[int, ...] = (0,)


def measure_interleaved(runs: list[Run], repeat: int) -> list[Measurement]:
    """Each command once per round, ``repeat`` rounds: on a shared machine every tool then sees
    the same load, so ratios of medians are not skewed by when each tool happened to run."""
    results = {run.name: Measurement(run.name, run.what) for run in runs}
    for i in range(repeat):
        for run in runs:
            result = results[run.name]
            if result.status != "ok":
                continue
            try:
                seconds, peak, cpu, _ = run_once(run.argv, expect=run.expect)
            except RuntimeError as problem:
                result.status, result.note = "failed", str(problem).splitlines()[0]
                log(f"  {run.name}: failed\n{problem}")
                continue
            result.seconds.append(seconds)
            result.cpu.append(cpu)
            result.peak_mb = max(result.peak_mb, peak)
            log(f"  {run.name} run {i + 1}/{repeat}: {seconds:.2f} s, {peak:.0f} MB")
    return list(results.values())


def validation_peers(file: Path, rows: int, repeat: int) -> list[Measurement]:
    from tipstats import columns as C

    label = f"{rows:,} rows"
    runs = [
        Run(
            "startup: tipstats --help",
            "the fixed cost of every `tipstats` command (interpreter, imports)",
            [TIPSTATS, "--help"],
        ),
        Run(
            "validate: tipstats",
            f"`tipstats validate` of a {label} file (schemas, codes, identities, report)",
            [TIPSTATS, "validate", "--home", str(WORK / "home_validate"), str(file)],
            (0, 1),
        ),
        Run(
            "validate: tipstats library",
            f"`tipstats.reports.validate_file` of the same {label} file in a fresh `python -c`: "
            "what the command runs, without the start-up of the whole CLI",
            [PYTHON, "-c", VALIDATE_SCRIPT, str(file), str(WORK / "home_validate" / "reports")],
            (0, 1),
        ),
    ]
    missing = []
    what = f"`frictionless validate` of the same {label} file with an equivalent Table Schema"
    if shutil.which(FRICTIONLESS) is None:
        missing.append(unavailable("validate: frictionless", what, "peer not installed", ""))
    else:
        schema = table_schema(WORK / "template.schema.json")
        # --trusted: frictionless refuses absolute paths otherwise ("not safe")
        argv = [FRICTIONLESS, "validate", "--trusted", str(file), "--schema", str(schema)]
        runs.append(Run("validate: frictionless", what, argv, (0, 1)))
    what = f"Great Expectations (pandas) on the same {label} file, equivalent expectations"
    if importlib.util.find_spec("great_expectations") is None:
        missing.append(unavailable("validate: great expectations", what, "peer not installed", ""))
    else:
        spec_path = WORK / "gx_spec.json"
        spec = {
            "required": [c for c in C.TEMPLATE_REQUIRED if c != C.VALUE],
            "allowed": allowed_values(),
            "value": VALUE_PATTERN,
            "key": list(C.OBSERVATION_KEY),
        }
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        argv = [PYTHON, "-c", GX_SCRIPT, str(file), str(spec_path)]
        runs.append(Run("validate: great expectations", what, argv))
    return measure_interleaved(runs, repeat) + missing


# --- report -------------------------------------------------------------------------------------
def machine() -> list[str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return [
        f"- CPU: {cpu}; nproc {usable} (of {os.cpu_count()})",
        f"- memory: {memory}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}; {', '.join(versions)}",
    ]


def row(m: Measurement) -> str:
    if not m.ok:
        detail = f"{m.status}" + (f": {m.note}" if m.note else "")
        return f"| {m.name} | {m.what} | 0 | - | - | - | - | - | {detail} |"
    return (
        f"| {m.name} | {m.what} | {len(m.seconds)} | {m.median:.2f} | {min(m.seconds):.2f} "
        f"| {max(m.seconds):.2f} | {m.median_cpu:.2f} | {m.peak_mb:,.0f} "
        f"| ok{'; ' + m.note if m.note else ''} |"
    )


def ratio(
    numerator: Measurement | None, denominator: Measurement | None, *, cpu: bool = False
) -> str:
    if numerator is None or denominator is None or not (numerator.ok and denominator.ok):
        return "not available yet"
    caveat = " (load only)" if "load only" in numerator.note + denominator.note else ""
    if cpu:
        return f"{numerator.median_cpu / denominator.median_cpu:.2f}{caveat}"
    return f"{numerator.median / denominator.median:.2f}{caveat}"


def _shown(m: Measurement | None, what: str, scale: Scale) -> str:
    if m is None or not m.ok:
        return "not available yet"
    shown = f"{m.median:.1f} s" if what == "seconds" else f"{m.peak_mb:,.0f} MB"
    caveats = (["load only"] if "load only" in m.note else []) + (
        [f"quick size: {scale.countries} countries x {scale.years}, not the world"]
        if scale is QUICK
        else []
    )
    return shown + (f" ({'; '.join(caveats)})" if caveats else "")


def write_results(
    path: Path, command: str, scale: Scale, measured: dict[str, Measurement], started: float
) -> None:
    get = measured.get
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}`",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {time.time() - started:.0f} s in all. "
        f"World workload: {scale.countries} countries x {scale.years}, seed {SEED}; "
        f"validation file: {scale.validation_rows:,} rows. Times are wall seconds of a fresh "
        "process each run (interpreter start included); peak memory is the largest sum of the "
        "resident sets of the process and its descendants (Prefect server, workers) over the "
        "runs; CPU is user + system time of the process and all its descendants (pool workers "
        "included: this script is their subreaper on Linux). Pipeline runs share one Prefect "
        "home (its database created by the first run, measured apart). The machine may be "
        "shared with other work; timings under a second are mostly process start-up, so their "
        "ratios are noise.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Measurements",
        "",
        "| measurement | what | runs | median s | min s | max s | median CPU s | peak MB "
        "| status |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row(m) for m in measured.values()),
        "",
        "## Comparisons (ratios of medians, same run)",
        "",
        "| comparison | ratio | target |",
        "|---|---|---|",
        f"| world pipeline / floor (DuckDB CSV -> Parquet) | "
        f"{ratio(get('pipeline full'), get('floor full'))} | <= 4 |",
        f"| world by commands, no Prefect / floor | "
        f"{ratio(get('commands full'), get('floor full'))} | (for reading) |",
        f"| frictionless / tipstats validate | "
        f"{ratio(get('validate: frictionless'), get('validate: tipstats'))} | >= 10 |",
        f"| great expectations / tipstats validate | "
        f"{ratio(get('validate: great expectations'), get('validate: tipstats'))} | > 1 |",
        f"| CPU time: frictionless / tipstats validate | "
        f"{ratio(get('validate: frictionless'), get('validate: tipstats'), cpu=True)} | >= 10 |",
        f"| CPU time: great expectations / tipstats validate | "
        f"{ratio(get('validate: great expectations'), get('validate: tipstats'), cpu=True)} "
        "| > 1 |",
    ]
    for stage in ("pipeline", "floor"):
        for part in ("quarter", "half"):
            lines.append(
                f"| scaling {stage}: full / {part} (size ratio {4 if part == 'quarter' else 2}) | "
                f"{ratio(get(f'{stage} full'), get(f'{stage} {part}'))} | <= "
                f"{4 if part == 'quarter' else 2} |"
            )
    world = get("pipeline full")
    one = get("one submission")
    lines += [
        "",
        "## Absolute targets",
        "",
        "| target | measured |",
        "|---|---|",
        f"| world end to end < 60 s | {_shown(world, 'seconds', scale)} |",
        f"| world peak memory < 2 GB | {_shown(world, 'memory', scale)} |",
        f"| one submission + rebuild < 10 s | {_shown(one, 'seconds', scale)} via `tipstats run`; "
        f"{_shown(get('one submission: submit + build'), 'seconds', scale)} via `tipstats submit` "
        "+ `tipstats build` |",
        "",
    ]
    if scale is QUICK:
        lines.insert(
            4,
            "This is a `--quick` run: a smaller world and validation file than the issue's "
            "targets; run without `--quick` for the full-size figures.\n",
        )
    path.write_text("\n".join([*lines, *other_sections(path, lines)]), encoding="utf-8")


def other_sections(path: Path, ours: list[str]) -> list[str]:
    """The sections of ``path`` that other bench scripts own, kept as they are."""
    if not path.exists():
        return []
    titles = {line for line in ours if line.startswith("## ")}
    kept: list[str] = []
    keep = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            keep = line not in titles
        if keep:
            kept.append(line)
    return [*kept, ""] if kept else []


def main() -> None:
    global WORK
    become_subreaper()  # the pool workers' CPU time counts too
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads (a few minutes)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement")
    parser.add_argument("--only", choices=("world", "validation"), help="run one group only")
    parser.add_argument("--out", type=Path, default=BENCH / "results.md")
    parser.add_argument(
        "--work", type=Path, default=WORK, help="folder for workloads and homes (bench/work)"
    )
    args = parser.parse_args()
    WORK = args.work.resolve()
    scale = QUICK if args.quick else FULL
    repeat = args.repeat or scale.repeat
    started = time.time()
    WORK.mkdir(parents=True, exist_ok=True)
    measured: dict[str, Measurement] = {}
    if args.only in (None, "world"):
        measured.update(world_measurements(scale, repeat))
    if args.only in (None, "validation"):
        log("validation against peers")
        source = WORK / f"validation_world_{scale.validation_countries}"
        if not source.exists():
            generate(scale.validation_countries, scale, source, VALIDATION_YEARS)
        file = validation_file(source, scale.validation_rows)
        for result in validation_peers(file, scale.validation_rows, repeat):
            measured[result.name] = result

    command = "python bench/run.py" + (" --quick" if args.quick else "")
    command += f" --repeat {args.repeat}" if args.repeat else ""
    command += f" --only {args.only}" if args.only else ""
    if args.out != BENCH / "results.md":
        command += f" --out {args.out}"
    if WORK != BENCH / "work":
        command += f" --work {args.work}"
    if args.only == "validation" and args.out.exists():
        write_validation_section(args.out, command, scale, measured)
    else:
        write_results(args.out, command, scale, measured, started)
    log(f"results: {args.out}")


VALIDATION_START = "<!-- validation against peers: written by run.py --only validation -->"
VALIDATION_END = "<!-- end of validation against peers -->"


def write_validation_section(
    path: Path, command: str, scale: Scale, measured: dict[str, Measurement]
) -> None:
    """Replace (or append) the validation section of ``path``, leaving the rest as it was, so
    that a validation-only run does not erase the world results."""
    get = measured.get
    section = [
        VALIDATION_START,
        "## Validation against peers (latest validation-only run)",
        "",
        f"Command: `{command}`. Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        f"validation file: {scale.validation_rows:,} rows. Wall seconds of a fresh process "
        "each run, interpreter start included; peak memory of the process tree.",
        "",
        *machine(),
        "",
        "| measurement | what | runs | median s | min s | max s | median CPU s | peak MB "
        "| status |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row(m) for m in measured.values()),
        "",
        "| comparison | ratio | target |",
        "|---|---|---|",
        f"| frictionless / tipstats validate | "
        f"{ratio(get('validate: frictionless'), get('validate: tipstats'))} | >= 10 |",
        f"| great expectations / tipstats validate | "
        f"{ratio(get('validate: great expectations'), get('validate: tipstats'))} | > 1 |",
        f"| frictionless / tipstats library (no CLI start-up) | "
        f"{ratio(get('validate: frictionless'), get('validate: tipstats library'))} | >= 10 |",
        f"| great expectations / tipstats library (no CLI start-up) | "
        f"{ratio(get('validate: great expectations'), get('validate: tipstats library'))} "
        "| > 1 |",
        f"| CPU time: frictionless / tipstats validate | "
        f"{ratio(get('validate: frictionless'), get('validate: tipstats'), cpu=True)} | >= 10 |",
        f"| CPU time: great expectations / tipstats validate | "
        f"{ratio(get('validate: great expectations'), get('validate: tipstats'), cpu=True)} "
        "| > 1 |",
        "",
        "Runs are interleaved (each tool once per round) so that all see the same load. "
        "`validate: tipstats` is `validate: tipstats library` plus the CLI's start-up: "
        "`startup: tipstats --help` is what every command pays to import "
        "all command modules (statsmodels, matplotlib, scipy among them) before it runs. "
        f"Load average when the run ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(the machine is shared; ratios within a round are the figures to trust).",
        VALIDATION_END,
    ]
    text = path.read_text(encoding="utf-8")
    if VALIDATION_START in text and VALIDATION_END in text:
        before, rest = text.split(VALIDATION_START, 1)
        after = rest.split(VALIDATION_END, 1)[1]
        text = before + "\n".join(section) + after
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(section) + "\n"
    path.write_text(text, encoding="utf-8")


def world_measurements(scale: Scale, repeat: int) -> dict[str, Measurement]:
    measured: dict[str, Measurement] = {}
    sizes = {
        "quarter": max(1, scale.countries // 4),
        "half": max(1, scale.countries // 2),
        "full": scale.countries,
    }
    folders = {label: WORK / f"world_{label}" for label in sizes}
    log(f"workloads: {sizes} countries x {scale.years}")
    for label, countries in sizes.items():
        result = generate(countries, scale, folders[label])
        measured[result.name] = result
        if not result.ok:
            raise SystemExit(f"cannot generate the workload: {result.note}")

    # Prefect keeps its own database (flow runs, artifacts) in PREFECT_HOME; a new one costs a
    # schema migration once. Analysts keep theirs, so the pipeline runs share one, created (and
    # measured) first.
    prefect_home = WORK / "prefect_home"
    shutil.rmtree(prefect_home, ignore_errors=True)
    RUN_ENV.update(os.environ, PREFECT_HOME=str(prefect_home))
    log("world: a first run in a new Prefect home (empty inbox)")
    measured["first run: new Prefect home"] = measure(
        "first run: new Prefect home",
        "`tipstats run` with an empty inbox and no Prefect database yet (Prefect creates and "
        "migrates it: once per installation)",
        [TIPSTATS, "run", "--home", str(WORK / "home_first_run")],
        1,
        setup=lambda i: fresh_home(WORK / "home_first_run", []),
    )
    measured["empty run"] = measure(
        "empty run",
        "`tipstats run` with an empty inbox, Prefect database in place: the fixed cost of a "
        "pipeline run (Prefect's temporary server, four flow runs, build and export of nothing)",
        [TIPSTATS, "run", "--home", str(WORK / "home_first_run")],
        repeat,
        setup=lambda i: fresh_home(WORK / "home_first_run", []),
    )

    log("world: floor and pipeline")
    world_home = None
    for label in ("full", "half", "quarter"):
        measured[f"floor {label}"] = floor(folders[label], label, repeat)
        pipeline, home = world_pipeline(folders[label], label, repeat)
        measured[f"pipeline {label}"] = pipeline
        if label == "full":
            world_home = home
            measured["commands full"] = world_commands(folders[label], label, repeat)

    log("one submission")
    measured["one submission"] = one_submission(world_home, scale, repeat)
    measured["one submission: submit + build"] = one_submission_cli(world_home, repeat)
    return measured


if __name__ == "__main__":
    main()
