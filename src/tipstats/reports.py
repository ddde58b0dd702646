"""IO: write a ValidationReport as CSV and as a readable HTML page into the home's ``reports/``."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tipstats.codelists import CodeLists
from tipstats.home import Home
from tipstats.validation import ValidationReport

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ReportPaths:
    csv: Path
    html: Path


def report_stem(source_name: str) -> str:
    """A file-system-safe name for the report of ``source_name`` (its stem, sanitised)."""
    stem = _UNSAFE.sub("_", Path(source_name).stem).strip("_")
    return stem or "submission"


def write_report(
    report: ValidationReport, reports_dir: Path, source_name: str, *, stem: str | None = None
) -> ReportPaths:
    """Write ``<stem>.validation.csv`` and ``<stem>.validation.html``; return both paths."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    name = stem or report_stem(source_name)
    csv_path = reports_dir / f"{name}.validation.csv"
    html_path = reports_dir / f"{name}.validation.html"
    report.table.to_csv(csv_path, index=False, encoding="utf-8")
    html_path.write_text(render_html(report, source_name), encoding="utf-8")
    return ReportPaths(csv=csv_path, html=html_path)


def render_html(report: ValidationReport, source_name: str) -> str:
    """One self-contained page: the verdict, counts by rule, then every problem (escaped)."""
    esc = html.escape
    verdict = "accepted" if report.accepted else "rejected"
    counts = report.counts_by_rule()
    count_rows = "".join(
        f'<tr class="{esc(str(r.severity))}"><td>{esc(str(r.rule_id))}</td>'
        f"<td>{esc(str(r.severity))}</td><td>{int(r.count)}</td></tr>"
        for r in counts.itertuples(index=False)
    )
    problem_rows = "".join(
        '<tr class="{sev}">{cells}</tr>'.format(
            sev=esc(str(row.severity)),
            cells="".join(f"<td>{esc(_text(value))}</td>" for value in row),
        )
        for row in report.table.itertuples(index=False)
    )
    header = "".join(f"<th>{esc(c)}</th>" for c in report.table.columns)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Validation report: {esc(source_name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
tr.error td:first-child {{ border-left: 4px solid #b00020; }}
tr.warning td:first-child {{ border-left: 4px solid #e0a000; }}
.accepted {{ color: #1b5e20; }} .rejected {{ color: #b00020; }}
</style></head><body>
<h1>Validation report: {esc(source_name)}</h1>
<p>Layout: {esc(report.layout)}. Data rows: {report.n_rows}.
Verdict: <strong class="{verdict}">{verdict}</strong>
({report.n_errors} errors, {report.n_warnings} warnings).
Errors must be corrected before the file can be loaded; warnings are loaded with a flag.
The meaning of each rule and what to do about it: docs/validation.md.</p>
<h2>Problems by rule</h2>
<table><tr><th>rule</th><th>severity</th><th>count</th></tr>{count_rows}</table>
<h2>All problems</h2>
<table><tr>{header}</tr>{problem_rows}</table>
</body></html>
"""


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


@dataclass(frozen=True)
class FileValidation:
    report: ValidationReport
    paths: ReportPaths


def validate_file(
    path: Path,
    reports_dir: Path,
    *,
    history: pd.DataFrame | None = None,
    home: Home | None = None,
) -> FileValidation:
    """Read, validate and write the report of one submitted file (the CLI's one call).

    Without ``history``, the warehouse of ``home`` (when there is one) gives it: the current
    observations of the file's countries, so that the plausibility rules run as on submit.
    A missing file or an unsupported type is a usage error (exit 2); a file the reader cannot
    make sense of, whatever it holds, becomes one plain reason (exit 1), never a traceback.
    """
    from tipstats.codelists import load_codelists
    from tipstats.errors import TipstatsError, UnreadableFileError, UsageError
    from tipstats.readers import read_submission
    from tipstats.validation import validate

    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not a file")
    try:
        parsed = read_submission(path)
    except TipstatsError:
        raise
    except (MemoryError, RecursionError) as problem:
        reason = f"{path.name}: too large or too deeply nested to read"
        raise UnreadableFileError(reason) from problem
    except Exception as problem:  # a reader failure on a strange file must not reach the user
        reason = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
        raise UnreadableFileError(f"{path.name}: cannot be read ({reason[:200]})") from problem
    codelists = load_codelists()
    if history is None and home is not None:
        history = warehouse_history(home, parsed.frame, codelists)
    report = validate(parsed, codelists, history)
    paths = write_report(report, reports_dir, path.name)
    return FileValidation(report=report, paths=paths)


def warehouse_history(home: Home, frame: pd.DataFrame, codelists: CodeLists) -> pd.DataFrame | None:
    """The warehouse's current observations of the countries ``frame`` names; None when the
    home has no warehouse yet (nothing to compare with)."""
    if not home.database.exists():
        return None
    from tipstats import columns as C
    from tipstats import warehouse

    countries: list[str] = []
    if C.COUNTRY in frame.columns:
        texts = pd.Series(frame[C.COUNTRY].dropna().unique(), dtype="string")
        countries = sorted({str(c) for c in codelists.country_iso3_many(texts).dropna()})
    import duckdb

    with warehouse.read_connection(home) as con:
        try:
            return warehouse.current_for(con, countries)
        except duckdb.CatalogException:  # a database file without the warehouse's tables
            return None
