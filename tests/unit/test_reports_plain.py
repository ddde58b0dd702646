"""Reports written from Python lists are byte for byte those of the pandas writer."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest

from tipstats.codelists import load_codelists
from tipstats.readers import read_submission
from tipstats.report_frame import normalize_report
from tipstats.reports import render_html, write_report
from tipstats.validation import ValidationReport, validate

FIXTURES = Path(__file__).parents[1] / "fixtures"


def reference_html(report: ValidationReport, source_name: str) -> str:
    """``render_html`` as it was before the plain writer (commit 02657ed), kept as the oracle."""
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


def assert_written_as_before(report: ValidationReport, folder: Path, name: str) -> None:
    paths = write_report(report, folder, name)
    expected_csv = folder / "expected.csv"
    report.table.to_csv(expected_csv, index=False, encoding="utf-8")
    assert paths.csv.read_bytes() == expected_csv.read_bytes()
    assert paths.html.read_bytes() == reference_html(report, name).encode("utf-8")
    assert render_html(report, name) == reference_html(report, name)


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


FILES = sorted(
    p
    for folder in ("good", "bad")
    for p in (FIXTURES / folder).iterdir()
    if p.suffix.lower() in {".csv", ".tsv", ".txt", ".xlsx"} and p.stat().st_size < 2**21
)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_reports_are_written_as_before(path: Path, tmp_path: Path, codelists) -> None:
    report = validate(read_submission(path), codelists, None)
    assert_written_as_before(report, tmp_path, path.name)


def test_some_fixture_reports_have_rows_of_both_severities(codelists) -> None:
    # the comparison above must cover full reports, not only empty ones
    tables = [validate(read_submission(p), codelists, None).table for p in FILES]
    assert any(set(t["severity"]) == {"error", "warning"} for t in tables)
    assert sum(len(t) for t in tables) > 100


def tricky_table() -> pd.DataFrame:
    rows = [
        ("value.formula_like", "error", 3, "comment", '=HYPERLINK("x","<a>")', "a, b\nc"),
        ("value.formula_like", "error", 4, "comment", None, 'quotes "inside" & <tags>'),
        ("harmonize.unmapped_sex", "warning", None, "sex", "Männlich", "sex `Männlich`; UNKNOWN"),
        ("b.rule", "warning", 7, None, "", "tie with a.rule"),
        ("a.rule", "warning", 8, None, " x ", "tie with b.rule\r\nwindows line"),
        ("harmonize.unmapped_sex", "warning", 9, "sex", "F?", ""),
        ("structure.x", "error", None, None, None, "file level"),
    ]
    return normalize_report(
        pd.DataFrame(rows, columns=["rule_id", "severity", "row", "column", "value", "message"])
    )


@pytest.mark.parametrize("n_rows", [0, 1, 7])
def test_tricky_texts_are_written_as_before(tmp_path: Path, n_rows: int) -> None:
    table = normalize_report(tricky_table().head(n_rows))
    report = ValidationReport(table=table, layout="template", n_rows=120)
    assert_written_as_before(report, tmp_path, "BRA 2022 <draft>.csv")


def test_unusual_tables_are_written_by_pandas_as_before(tmp_path: Path) -> None:
    table = tricky_table()
    odd_severity = table.assign(severity=table["severity"].replace("warning", "note"))
    missing_rule = table.assign(rule_id=table["rule_id"].where(table["row"].notna()))
    floats = table.assign(row=table["row"].astype("float"))
    for odd in (odd_severity, missing_rule, floats):
        assert_written_as_before(ValidationReport(table=odd, n_rows=3), tmp_path, "odd.csv")
