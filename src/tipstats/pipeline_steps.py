"""The build and export steps of the pipeline as plain library calls, and the run's summary.

Prefect tasks in ``flows/`` wrap these one-to-one, so the same calls run (and are benchmarked)
with or without Prefect. ``warehouse_fingerprint`` says whether anything that feeds the marts
has changed since the last run: the flows cache the build and the export on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from tipstats import sql_runner, warehouse
from tipstats.codelists import load_codelists
from tipstats.home import Home
from tipstats.ingest_summary import IngestSummary, summary_markdown


@dataclass(frozen=True)
class BuildSummary:
    n_models: int
    rows_by_model: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class ExportSummary:
    folder: str
    run_id: str
    n_files: int
    n_tables: int


def run_models(home: Home, select: str | None = None) -> pd.DataFrame:
    """Refresh the reference tables, then build, audit and publish the SQL models.

    The reference tables are refreshed here too, not only with a submission: changed reference
    data (a new population year, a reviewed region) must reach the marts without a new file,
    and an empty warehouse must build.
    """
    with warehouse.write_connection(home) as con:
        con.execute("begin transaction")
        warehouse.load_reference(con, load_codelists())
        con.execute("commit")
        return sql_runner.run(con, select=select)


def build_marts(home: Home) -> BuildSummary:
    """Run every SQL model and test; the marts are published only if every test passes."""
    result = run_models(home)
    return BuildSummary(
        n_models=len(result),
        rows_by_model={str(r.model): int(r.rows) for r in result.itertuples(index=False)},
        seconds=float(result["seconds"].sum()) if len(result) else 0.0,
    )


def marts_present(home: Home) -> bool:
    """Whether the warehouse holds every published model (a cached build is only good then:
    a home wiped and made again at the same path has the same fingerprint and no marts)."""
    if not home.database.exists():
        return False
    models = set(sql_runner.model_paths())
    with warehouse.read_connection(home) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [sql_runner.PUBLISHED_SCHEMA],
        ).fetchall()
    return models <= {str(name) for (name,) in tables}


def export_tables(home: Home, threshold: int = 5) -> ExportSummary:
    """Write the report tables, SDMX-CSV, charts and profiles into ``exports/<run-id>/``."""
    # exports bring matplotlib and scipy: imported when exporting, not for every command
    from tipstats.disclosure import DisclosureConfig
    from tipstats.exports import export_home

    exported = export_home(home, config=DisclosureConfig(threshold=threshold))
    return ExportSummary(
        folder=str(exported.folder),
        run_id=exported.run_id,
        n_files=len(exported.files),
        n_tables=len(exported.tables),
    )


def warehouse_fingerprint(home: Home) -> str:
    """A hash of everything the marts depend on: submissions, SQL models, reference data."""
    digest = hashlib.sha256(str(home.root.resolve()).encode())
    if home.database.exists():
        submissions = warehouse.read_tables(home, ["submissions"])["submissions"]
        if submissions is not None and len(submissions):
            digest.update(
                submissions[["submission_id", "status"]]
                .sort_values("submission_id")
                .to_csv(index=False)
                .encode()
            )
    project = sql_runner.DEFAULT_PROJECT
    for path in sorted(p for p in project.rglob("*") if p.suffix in {".sql", ".csv"}):
        digest.update(str(path.relative_to(project)).encode())
        digest.update(path.read_bytes())
    # the code lists already hash every reference file (the versions the warehouse records)
    digest.update(load_codelists().versions[["name", "sha256"]].to_csv(index=False).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class PipelineSummary:
    ingest: IngestSummary
    build: BuildSummary
    export: ExportSummary

    def markdown(self) -> str:
        return "\n".join(
            [
                summary_markdown(self.ingest),
                "# Build",
                "",
                f"- marts rebuilt: {self.build.n_models}",
                "",
                "# Exports",
                "",
                f"- folder: {self.export.folder}",
                f"- files: {self.export.n_files}, tables: {self.export.n_tables}",
                "",
            ]
        )
