"""Rebuild the submission templates (CSV and XLSX) from the code lists, so they never drift.

Run from the checkout with the project's Python:
    .venv/bin/python data/templates/build_templates.py [OUT_DIR]

The XLSX has three sheets: ``data`` (the header and example rows), ``columns`` (what each
column holds) and ``codes`` (every allowed code with its English, French and Spanish labels).
``tests/unit/test_submission_doc.py`` checks that the committed files match the code lists.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from tipstats.codelists import load_codelists
from tipstats.columns import TEMPLATE_COLUMNS, TEMPLATE_REQUIRED

HERE = Path(__file__).resolve().parent
TEMPLATE_NAME = "submission_template"

# Example rows: a total, its parts (one of them censored at source) and an unknown part.
EXAMPLES = [
    ["ROU", "2023", "VICTIMS_DETECTED", "_T", "_T", "_T", "_T", "250", "A", "POLICE", ""],
    ["ROU", "2023", "VICTIMS_DETECTED", "F", "_T", "_T", "_T", "180", "A", "POLICE", ""],
    ["ROU", "2023", "VICTIMS_DETECTED", "M", "_T", "_T", "_T", "67", "A", "POLICE", ""],
    ["ROU", "2023", "VICTIMS_DETECTED", "UNKNOWN", "_T", "_T", "_T", "3", "A", "POLICE", ""],
    [
        "ROU",
        "2023",
        "VICTIMS_DETECTED",
        "F",
        "Y0T17",
        "SEXUAL",
        "NATIONALS",
        "41",
        "A",
        "POLICE",
        "",
    ],
    [
        "ROU",
        "2023",
        "VICTIMS_DETECTED",
        "F",
        "Y0T17",
        "SEXUAL",
        "MDA",
        "<5",
        "C",
        "POLICE",
        "small count kept confidential",
    ],
    [
        "ROU",
        "2023",
        "PERSONS_CONVICTED",
        "_T",
        "_T",
        "_T",
        "_T",
        "",
        "M",
        "COURTS",
        "not yet available",
    ],
]

COLUMN_HELP = {
    "country": "The reporting country: ISO 3166 alpha-3 code (e.g. ROU), or its name. "
    "One country per file.",
    "year": "The reference year, four digits (e.g. 2023).",
    "indicator": "What is counted: an indicator code or label (sheet codes).",
    "sex": "Sex of the persons counted; _T for all.",
    "age": "Age group of the persons counted; _T for all ages.",
    "exploitation": "Form of exploitation; _T for all forms.",
    "citizenship": "NATIONALS, FOREIGN, UNKNOWN, _T, or the ISO3 code / name of a country.",
    "value": "The count: digits only, no separators. <5 for a small count kept confidential "
    "(status C); empty when not available (status M).",
    "status": "A normal (default when empty; C when the value is <5), E estimated, "
    "P provisional, B break in series, M not available, C censored at source.",
    "source": "The institution that recorded the count; empty is recorded as OTHER.",
    "comment": "Free text: definitions, breaks, anything the figure needs to be read right.",
}


DOC = HERE.parents[1] / "docs" / "submission-format.md"
CODES_START = "<!-- codes:start -->"
CODES_END = "<!-- codes:end -->"


def codes_markdown() -> str:
    """The allowed codes of every dimension as Markdown tables, for the submission guide."""
    lists = load_codelists()
    parts = []
    for dimension in lists.dimensions():
        parts.append(f"### {dimension}\n")
        parts.append("| code | English | French | Spanish | meaning |")
        parts.append("|---|---|---|---|---|")
        for row in lists.table(dimension).itertuples():
            cells = [f"`{row.code}`", row.label_en, row.label_fr, row.label_es, row.description]
            parts.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
        parts.append("")
    return "\n".join(parts)


def refresh_doc(doc: Path = DOC) -> None:
    text = doc.read_text(encoding="utf-8")
    head, rest = text.split(CODES_START, 1)
    _, tail = rest.split(CODES_END, 1)
    body = f"{CODES_START}\n{codes_markdown()}{CODES_END}"
    doc.write_text(head + body + tail, encoding="utf-8")


def build(out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{TEMPLATE_NAME}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TEMPLATE_COLUMNS)
        writer.writerows(EXAMPLES)
    xlsx_path = out / f"{TEMPLATE_NAME}.xlsx"
    _workbook().save(xlsx_path)
    return csv_path, xlsx_path


def _workbook() -> Workbook:
    lists = load_codelists()
    book = Workbook()
    data = book.active
    data.title = "data"
    data.append(list(TEMPLATE_COLUMNS))
    for row in EXAMPLES:
        # Keep every cell as text (years and counts included) so that "<5" and codes such as
        # "004" survive exactly as an NSO would type them.
        data.append(row)
    columns = book.create_sheet("columns")
    columns.append(["column", "required", "what it holds"])
    for name in TEMPLATE_COLUMNS:
        columns.append([name, "yes" if name in TEMPLATE_REQUIRED else "no", COLUMN_HELP[name]])
    codes = book.create_sheet("codes")
    codes.append(["dimension", "code", "label_en", "label_fr", "label_es", "description"])
    for dimension in lists.dimensions():
        for row in lists.table(dimension).itertuples():
            codes.append(
                [dimension, row.code, row.label_en, row.label_fr, row.label_es, row.description]
            )
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    return book


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for path in build(target):
        sys.stdout.write(f"wrote {path}\n")
    if target == HERE:
        refresh_doc()
        sys.stdout.write(f"refreshed the code tables in {DOC}\n")
