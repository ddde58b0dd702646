"""A small dbt-like runner: build SQL models into a scratch schema, test, then publish.

Models live in `dbt_like_sql/{staging,intermediate,marts}/*.sql` (file name = table name);
tests in `dbt_like_sql/tests/*.sql` each return offending rows. Publishing happens only when
every test returns no rows (write-audit-publish), so a failed audit leaves the old tables.

Configuration is data: each row of `dbt_like_sql/vars.csv` becomes a DuckDB variable the models
read with `getvariable('name')`, and each row of `dbt_like_sql/seeds.csv` loads a reference CSV
of `data/reference/` as a table (published next to the marts, so queries can see it).

Public entry point: `run(con, project=DEFAULT_PROJECT, select=None, reference=None)`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from tipstats.errors import TipstatsError
from tipstats.home import reference_dir

MODEL_LAYERS = ("staging", "intermediate", "marts")
SCRATCH_SCHEMA = "scratch"  # a schema of that name left by older builds is dropped
# Models are built in an in-memory database attached under this name, then copied into the
# warehouse once all audits pass: building them in the warehouse file wrote every table twice.
SCRATCH_CATALOG = "tipstats_scratch"
SCRATCH = f"{SCRATCH_CATALOG}.main"
PUBLISHED_SCHEMA = "main"
DEFAULT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_like_sql"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    sql: str
    depends_on: frozenset[str]


class SqlTestFailed(TipstatsError):
    """An audit query returned rows: nothing was published."""

    def __init__(self, message: str, *, test: str, offending: pd.DataFrame) -> None:
        super().__init__(message)
        self.test = test
        self.offending = offending


def model_paths(project: Path = DEFAULT_PROJECT) -> dict[str, Path]:
    """Each model's file by model name (the file name is the table), without parsing any."""
    return {p.stem: p for layer in MODEL_LAYERS for p in sorted((project / layer).glob("*.sql"))}


def discover(project: Path = DEFAULT_PROJECT) -> dict[str, Model]:
    """All models of the project with the other models each one reads."""
    paths = model_paths(project)
    models = {}
    for name, path in paths.items():
        sql = path.read_text(encoding="utf-8")
        models[name] = Model(name, path, sql, frozenset(referenced_tables(sql) & paths.keys()))
    return models


def referenced_tables(sql: str) -> set[str]:
    """Names of the tables a query reads, CTE names excluded."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name not in ctes}


def build_order(models: dict[str, Model]) -> list[str]:
    graph = {name: set(m.depends_on) for name, m in models.items()}
    return list(TopologicalSorter(graph).static_order())


def select_models(models: dict[str, Model], selector: str | None) -> set[str]:
    """dbt-style selection: `m`, `m+` (descendants), `+m` (ancestors), `+m+`."""
    if not selector:
        return set(models)
    name = selector.strip("+")
    if name not in models:
        raise TipstatsError(
            f"unknown model {name!r}; known: {', '.join(sorted(models))}", exit_code=2
        )
    chosen = {name}
    if selector.endswith("+"):
        chosen |= _closure(
            name, {n: {c for c, m in models.items() if n in m.depends_on} for n in models}
        )
    if selector.startswith("+"):
        chosen |= _closure(name, {n: set(m.depends_on) for n, m in models.items()})
    return chosen


def _closure(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def run(
    con: duckdb.DuckDBPyConnection,
    project: Path = DEFAULT_PROJECT,
    select: str | None = None,
    reference: Path | None = None,
) -> pd.DataFrame:
    """Build, audit and publish; returns one row per model (model, rows, seconds, status).

    Raises `SqlTestFailed` (nothing published) when an audit returns rows, `TipstatsError` when
    a model fails or a seed or variable is malformed.
    """
    models = discover(project)
    catalog = _catalog(con)
    published = f"{catalog}.{PUBLISHED_SCHEMA}"
    con.execute(f"drop schema if exists {catalog}.{SCRATCH_SCHEMA} cascade")
    con.execute(f"detach database if exists {SCRATCH_CATALOG}")
    con.execute(f"attach ':memory:' as {SCRATCH_CATALOG}")
    try:
        return _build(con, models, select_models(models, select), project, reference, published)
    finally:
        con.execute(f"use {published}")
        con.execute(f"detach database if exists {SCRATCH_CATALOG}")


def _build(
    con: duckdb.DuckDBPyConnection,
    models: dict[str, Model],
    chosen: set[str],
    project: Path,
    reference: Path | None,
    published: str,
) -> pd.DataFrame:
    set_vars(con, project)
    seeds = _load_seeds(con, project, reference if reference is not None else reference_dir())
    results = []
    for name in build_order(models):
        if name not in chosen:
            # unselected upstream models are read from what is already published
            if _exists(con, published, name):
                con.execute(f"create view {SCRATCH}.{name} as select * from {published}.{name}")
            continue
        started = time.perf_counter()
        con.execute(f"set search_path = '{SCRATCH},{published}'")
        try:
            con.execute(f"create table {SCRATCH}.{name} as {models[name].sql}")
        except duckdb.Error as error:
            raise TipstatsError(
                f"model {name} ({models[name].path.name}) failed: {error}"
            ) from error
        finally:
            con.execute(f"set search_path = '{published}'")
        n_rows = con.execute(f"select count(*) from {SCRATCH}.{name}").fetchone()[0]
        results.append((name, n_rows, time.perf_counter() - started, "built"))
    _audit(con, project, published)
    _publish(con, seeds + [r[0] for r in results], published)
    frame = pd.DataFrame(results, columns=["model", "rows", "seconds", "status"])
    frame["status"] = "published"
    return frame


def set_vars(con: duckdb.DuckDBPyConnection, project: Path = DEFAULT_PROJECT) -> pd.DataFrame:
    """Set each row of `vars.csv` as a DuckDB variable (text; models cast what they need)."""
    frame = _read_config(project / "vars.csv", ("name", "value"))
    for row, (name, value) in enumerate(zip(frame["name"], frame["value"], strict=True), start=2):
        if not _IDENTIFIER.match(name):
            raise TipstatsError(f"{project / 'vars.csv'} row {row}: bad variable name {name!r}")
        con.execute(f"set variable {name} = ?", [value])
    return frame


def _read_config(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """A small CSV of the project, or a one-line error naming the file and what is wrong."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as error:
        raise TipstatsError(f"{path}: cannot read ({str(error).strip()})") from error
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TipstatsError(f"{path}: missing column {', '.join(missing)}")
    return frame


def _load_seeds(con: duckdb.DuckDBPyConnection, project: Path, reference: Path) -> list[str]:
    """Load the reference CSVs listed in `seeds.csv` into the scratch schema; their names."""
    seeds = _read_config(project / "seeds.csv", ("table", "file"))
    for row, (table, file) in enumerate(zip(seeds["table"], seeds["file"], strict=True), start=2):
        path = reference / file
        if not _IDENTIFIER.match(table) or not path.is_file():
            raise TipstatsError(
                f"{project / 'seeds.csv'} row {row}: table {table!r}, file {path} not found"
            )
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        con.register("_seed_frame", frame)
        con.execute(f"create table {SCRATCH}.{table} as select * from _seed_frame")
        con.unregister("_seed_frame")
    return list(seeds["table"])


def _exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether ``schema`` (``catalog.schema``) holds a table or view called ``name``."""
    catalog, schema_name = schema.split(".")
    query = (
        "select count(*) from information_schema.tables "
        "where table_catalog = ? and table_schema = ? and table_name = ?"
    )
    return con.execute(query, [catalog, schema_name, name]).fetchone()[0] > 0


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("select current_database()").fetchone()[0])


def _audit(con: duckdb.DuckDBPyConnection, project: Path, published: str) -> None:
    con.execute(f"set search_path = '{SCRATCH},{published}'")
    try:
        for test in sorted((project / "tests").glob("*.sql")):
            offending = con.execute(test.read_text(encoding="utf-8")).df()
            if len(offending):
                raise SqlTestFailed(
                    f"SQL test {test.stem} failed ({len(offending)} offending rows); "
                    f"nothing published. First rows:\n{offending.head(5).to_string(index=False)}",
                    test=test.stem,
                    offending=offending,
                )
    finally:
        con.execute(f"set search_path = '{published}'")


def _publish(con: duckdb.DuckDBPyConnection, names: list[str], published: str) -> None:
    con.execute("begin transaction")
    try:
        for name in names:
            con.execute(
                f"create or replace table {published}.{name} as select * from {SCRATCH}.{name}"
            )
        con.execute("commit")
    except duckdb.Error:
        con.execute("rollback")
        raise
