"""The submission guide and templates say exactly what the code lists say."""

from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tipstats.codelists import load_codelists
from tipstats.columns import TEMPLATE_COLUMNS
from tipstats.readers import read_submission
from tipstats.validation import validate

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "submission-format.md"
TEMPLATES = ROOT / "data" / "templates"


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_templates", TEMPLATES / "build_templates.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lists():
    return load_codelists()


def _sheet_rows(path: Path, sheet: str) -> list[list[str]]:
    book = load_workbook(path, read_only=True)
    values = book[sheet].iter_rows(values_only=True)
    rows = [["" if v is None else str(v) for v in row] for row in values]
    book.close()
    return rows


def test_every_code_appears_in_the_doc(lists):
    doc = DOC.read_text(encoding="utf-8")
    missing = [
        (dimension, code)
        for dimension in lists.dimensions()
        for code in lists.codes(dimension)
        if f"`{code}`" not in doc
    ]
    assert missing == []
    for dimension in lists.dimensions():
        assert re.search(rf"^### {dimension}$", doc, flags=re.MULTILINE), dimension


def test_doc_code_tables_are_current():
    builder = _builder()
    doc = DOC.read_text(encoding="utf-8")
    block = doc.split(builder.CODES_START, 1)[1].split(builder.CODES_END, 1)[0]
    assert block.strip() == builder.codes_markdown().strip()


def test_xlsx_codes_sheet_matches_the_code_lists(lists):
    rows = _sheet_rows(TEMPLATES / "submission_template.xlsx", "codes")
    assert rows[0][:5] == ["dimension", "code", "label_en", "label_fr", "label_es"]
    listed = [tuple(row[:5]) for row in rows[1:]]
    expected = [
        (dimension, r.code, r.label_en, r.label_fr, r.label_es)
        for dimension in lists.dimensions()
        for r in lists.table(dimension).itertuples()
    ]
    assert listed == expected


def test_xlsx_sheets_explain_every_column():
    book = load_workbook(TEMPLATES / "submission_template.xlsx", read_only=True)
    assert book.sheetnames == ["data", "columns", "codes"]
    book.close()
    data = _sheet_rows(TEMPLATES / "submission_template.xlsx", "data")
    assert tuple(data[0]) == TEMPLATE_COLUMNS and len(data) > 1
    columns = _sheet_rows(TEMPLATES / "submission_template.xlsx", "columns")
    assert [row[0] for row in columns[1:]] == list(TEMPLATE_COLUMNS)
    assert all(row[2] for row in columns[1:])


def test_csv_template_matches_a_fresh_build(tmp_path):
    csv_path, _ = _builder().build(tmp_path)
    committed = TEMPLATES / "submission_template.csv"
    assert committed.read_text(encoding="utf-8") == csv_path.read_text(encoding="utf-8")
    with committed.open(encoding="utf-8") as handle:
        assert tuple(next(csv.reader(handle))) == TEMPLATE_COLUMNS


@pytest.mark.parametrize("name", ["submission_template.csv", "submission_template.xlsx"])
def test_templates_are_valid_submissions(lists, name):
    report = validate(read_submission(TEMPLATES / name), lists)
    assert report.accepted, report
