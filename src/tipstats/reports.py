"""IO: write a ValidationReport as CSV and as a readable HTML page into the home's ``reports/``."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tipstats.codelists import CodeLists
from tipstats.home import Home
from tipstats.report_frame import ERROR, WARNING
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
    cells = _plain_cells(report.table)
    if cells is None:
        report.table.to_csv(csv_path, index=False, encoding="utf-8")
        page = render_html(report, source_name)
    else:
        csv_path.write_text(_csv_text(report.table, cells), encoding="utf-8", newline="")
        page = _render_plain(report, source_name, cells)
    html_path.write_text(page, encoding="utf-8")
    return ReportPaths(csv=csv_path, html=html_path)


def render_html(report: ValidationReport, source_name: str) -> str:
    """One self-contained page: the verdict, counts by rule, then every problem (escaped)."""
    cells = _plain_cells(report.table)
    if cells is not None:
        return _render_plain(report, source_name, cells)
    return _render_with_pandas(report, source_name)


# Most reports hold a few rows or none: written from Python lists, a report costs a tenth of a
# millisecond instead of the few that pandas' CSV writer and grouping cost per call. Only tables
# of text and integer columns with the usual severities take this way; the pages are the same.
_PLAIN_DTYPES = (pd.StringDtype, pd.Int64Dtype)


def _plain_cells(table: pd.DataFrame) -> list[list[str]] | None:
    """The table's rows as texts (``""`` for a missing cell), or None when the table holds other
    types than text and integers, or severities other than error and warning."""
    if not all(isinstance(dtype, _PLAIN_DTYPES) for dtype in table.dtypes):
        return None
    names = list(table.columns)
    if not all(isinstance(name, str) for name in names) or not {"rule_id", "severity"} <= set(
        names
    ):
        return None
    if table.empty:
        return []
    values = table.to_numpy(dtype=object, na_value=None)
    severities = set(values[:, names.index("severity")].tolist())
    if not severities <= {ERROR, WARNING} or any(
        rule is None for rule in values[:, names.index("rule_id")].tolist()
    ):
        return None
    return [[_text(value) for value in row] for row in values.tolist()]


def _csv_text(table: pd.DataFrame, cells: list[list[str]]) -> str:
    """What ``table.to_csv(index=False)`` writes: the same ``csv`` writer and settings."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(list(table.columns))
    writer.writerows(cells)
    return out.getvalue()


def _render_plain(report: ValidationReport, source_name: str, cells: list[list[str]]) -> str:
    """``render_html`` from the table's texts: the counts by rule grouped in Python."""
    columns = list(report.table.columns)
    severity_at = columns.index("severity")
    rule_at = columns.index("rule_id")
    counts: dict[tuple[str, str], int] = {}
    for row in cells:
        key = (row[rule_at], row[severity_at])
        counts[key] = counts.get(key, 0) + 1
    # as ValidationReport.counts_by_rule: errors first, then the most frequent, then by rule
    ordered = sorted(counts.items(), key=lambda kv: (kv[0][1] != ERROR, -kv[1], kv[0][0]))
    n_errors = sum(n for (_, severity), n in counts.items() if severity == ERROR)
    n_warnings = len(cells) - n_errors
    return _page(
        report,
        source_name,
        counts=[(rule, severity, n) for (rule, severity), n in ordered],
        rows=[(row[severity_at], row) for row in cells],
        n_errors=n_errors,
        n_warnings=n_warnings,
    )


def _render_with_pandas(report: ValidationReport, source_name: str) -> str:
    counts = report.counts_by_rule()
    return _page(
        report,
        source_name,
        counts=[
            (str(r.rule_id), str(r.severity), int(r.count)) for r in counts.itertuples(index=False)
        ],
        rows=[
            (str(row.severity), [_text(value) for value in row])
            for row in report.table.itertuples(index=False)
        ],
        n_errors=report.n_errors,
        n_warnings=report.n_warnings,
    )


def _page(
    report: ValidationReport,
    source_name: str,
    *,
    counts: list[tuple[str, str, int]],
    rows: list[tuple[str, list[str]]],
    n_errors: int,
    n_warnings: int,
) -> str:
    esc = html.escape
    verdict = "rejected" if n_errors else "accepted"
    count_rows = "".join(
        f'<tr class="{esc(severity)}"><td>{esc(rule)}</td>'
        f"<td>{esc(severity)}</td><td>{count}</td></tr>"
        for rule, severity, count in counts
    )
    problem_rows = "".join(
        '<tr class="{sev}">{cells}</tr>'.format(
            sev=esc(severity),
            cells="".join(f"<td>{esc(value)}</td>" for value in values),
        )
        for severity, values in rows
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
({n_errors} errors, {n_warnings} warnings).
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
