"""The bad-input corpus (issue 8): every file through `tipstats submit` into a real warehouse.

Each file must exit 1 with a report naming its rule (and row where there is one), print no
traceback, and leave the warehouse as it was: every table equal before and after, except
``submissions``, which gains exactly the file's `rejected` row. One warehouse serves the whole
module; the big and hostile files (50 MB of junk, a zip bomb, a path-like name) are made in
``tmp_path`` at test time rather than committed.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tipstats import warehouse
from tipstats.cli import app
from tipstats.cli.app import console, err_console
from tipstats.home import Home, resolve_home

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BAD = FIXTURES / "bad"
runner = CliRunner()

# file -> (rule id, row): the rule the report must name for it, at that row (None: the whole file)
CORPUS = {
    "binary_garbage.csv": ("file.not_text", None),
    "blank_lines_only.csv": ("structure.empty_file", None),
    "bom_then_latin1.csv": ("file.encoding", 2),
    "dataunodc_missing_txtvalue.csv": ("structure.missing_column", None),
    "decimal_value.csv": ("value.not_integer", 2),
    "duplicate_column.csv": ("structure.duplicate_column", 1),
    "duplicate_key.csv": ("key.duplicate", 4),
    "empty.csv": ("structure.empty_file", None),
    "formula_cells.csv": ("value.formula_like", 3),
    "formula_in_comment_dde.csv": ("value.formula_like", 3),
    "header_only.csv": ("structure.no_data_rows", 1),
    "html_page.csv": ("structure.no_header", None),
    "json_document.csv": ("structure.no_header", None),
    "missing_column.csv": ("structure.missing_column", None),
    "missing_sex_cell.csv": ("cell.missing", 3),
    "mixed_delimiters.csv": ("structure.ragged_row", 3),
    "negative_value.csv": ("value.negative", 3),
    "NLD_2021_rows_for_france.csv": ("country.not_as_named", 2),
    "no_header.csv": ("structure.no_header", None),
    "not_a_zip.xlsx": ("file.not_xlsx", None),
    "nul_bytes.csv": ("file.not_text", None),
    "old_excel_renamed.xlsx": ("file.not_xlsx", None),
    "only_delimiters.csv": ("structure.no_header", None),
    "part_exceeds_total.csv": ("identity.part_exceeds_total", 3),
    "parts_exceed_total.csv": ("identity.parts_exceed_total", 2),
    "pdf_renamed.csv": ("file.not_text", None),
    "ragged_rows.csv": ("structure.ragged_row", 3),
    "semicolon_bad_quoting.csv": ("structure.bad_quoting", 3),
    "sex_age_inconsistent.csv": ("identity.sex_age_inconsistent", 3),
    "short_row.csv": ("structure.ragged_row", 4),
    "status_censored_with_value.csv": ("status.value_inconsistent", 3),
    "thousands_ambiguous.csv": ("value.thousands_ambiguous", 2),
    "truncated.xlsx": ("file.not_xlsx", None),
    "two_countries.csv": ("country.multiple", 4),
    "unbalanced_quotes_everywhere.csv": ("structure.bad_quoting", 2),
    "unclosed_quote.csv": ("structure.bad_quoting", 3),
    "unknown_citizenship.csv": ("code.unknown", 3),
    "unknown_country.csv": ("country.unknown", 2),
    "unknown_exploitation_label.csv": ("code.unknown", 3),
    "unknown_indicator.csv": ("code.unknown", 2),
    "unknown_sex_label.csv": ("code.unknown", 3),
    "unknown_source.csv": ("code.unknown", 2),
    "unknown_status.csv": ("code.unknown", 2),
    "utf16_without_bom.csv": ("file.not_text", None),
    "value_too_large.csv": ("value.too_large", 2),
    "value_with_letters.csv": ("value.not_a_number", 4),
    "value_with_status_missing.csv": ("status.value_inconsistent", 2),
    "workbook_negative_value.xlsx": ("value.negative", 2),
    "workbook_renamed.csv": ("file.not_text", None),
    "workbook_without_header.xlsx": ("structure.no_header", None),
    "wrong_encoding_mixed.csv": ("file.encoding", 3),
    "wrong_encoding_undefined_bytes.csv": ("file.encoding", 2),
    "year_not_a_year.csv": ("year.invalid", 2),
    "year_out_of_range.csv": ("year.out_of_range", 3),
    "zip_bomb.xlsx": ("file.zip_bomb", None),
    "zip_not_workbook.xlsx": ("file.not_xlsx", None),
}
# defects that are warnings: such a file is accepted with flags (tests/unit/test_validation.py)
WARNINGS_ONLY = {"empty_value.csv", "parts_unknown_mismatch.csv", "unknown_column.csv"}
# made at test time: name -> (maker, rule id, row)
JUNK_BYTES = 50 * 2**20
PATH_LIKE_NAME = "..\\..\\reports\\negative; rm -rf ~ $(id).csv"


def junk_50_mb(folder: Path) -> Path:
    """50 MB of printable junk in lines: no header anywhere."""
    path = folder / "junk_50mb.csv"
    line = bytes(random.Random(50).choices(b"abcdefghij0123456789 ;,.\t", k=4095)) + b"\n"
    with path.open("wb") as handle:
        for _ in range(JUNK_BYTES // len(line)):
            handle.write(line)
    return path


def zip_bomb(folder: Path) -> Path:
    """A workbook whose sheet expands to 300 MB of zeros (about 300 KB compressed)."""
    path = folder / "zip_bomb_300mb.xlsx"
    chunk = bytes(2**20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for _ in range(300):
                sheet.write(chunk)
    return path


def path_like_name(folder: Path) -> Path:
    """A name that looks like a path (and a shell command); its content has a negative count."""
    path = folder / PATH_LIKE_NAME
    content = (BAD / "negative_value.csv").read_text(encoding="utf-8")
    path.write_text(content.replace("\n", ",path-like\n", 1), encoding="utf-8")
    return path


MADE = {
    "junk_50mb.csv": (junk_50_mb, "structure.no_header", None),
    "zip_bomb_300mb.xlsx": (zip_bomb, "file.zip_bomb", None),
    PATH_LIKE_NAME: (path_like_name, "value.negative", 3),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Home:
    """A warehouse that already holds one accepted submission."""
    runtime = resolve_home(tmp_path_factory.mktemp("corpus") / "home")
    result = warehouse.submit(FIXTURES / "good" / "utf8_bom.csv", runtime)
    assert result.status == warehouse.ACCEPTED and result.n_cells == 3
    return runtime


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("made")
    return {name: maker(folder) for name, (maker, _, _) in MADE.items()}


@pytest.fixture
def wide_console(monkeypatch):
    """Rule ids printed whole, not folded by a narrow terminal."""
    monkeypatch.setattr(console, "width", 200)
    monkeypatch.setattr(err_console, "width", 200)


def snapshot(home: Home) -> dict[str, pd.DataFrame]:
    """Every table and view of the warehouse, sorted (``submissions`` included)."""
    with warehouse.read_connection(home) as con:
        names = [
            str(row[0])
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' order by table_name"
            ).fetchall()
        ]
        return {name: con.execute(f'select * from "{name}" order by all').df() for name in names}


def submit_and_check(home: Home, path: Path, rule_id: str, row: int | None) -> None:
    before = snapshot(home)
    result = runner.invoke(app, ["submit", str(path), "--home", str(home.root)])
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert rule_id in output, output

    after = snapshot(home)
    assert set(after) == set(before)
    for name in sorted(set(before) - {"submissions"}):
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)
    new = after["submissions"].merge(
        before["submissions"], how="left", indicator=True, on="submission_id"
    )
    new = after["submissions"][(new["_merge"] == "left_only").to_numpy()]
    assert len(new) == 1
    record = new.iloc[0]
    assert record["status"] == "rejected"
    assert record["original_name"] == path.name
    assert record["n_errors"] >= 1

    report = pd.read_csv(record["report_path"], dtype={"row": "Int64"}, keep_default_na=False)
    named = report[report["rule_id"] == rule_id]
    assert len(named), report.to_string()
    assert (named["severity"] == "error").any() or (report["severity"] == "error").any()
    if row is None:
        assert named["row"].isna().any(), named.to_string()
    else:
        assert row in set(named["row"].dropna()), named.to_string()


def test_the_corpus_is_large_and_every_file_distinct():
    files = [p for p in BAD.iterdir() if p.is_file()]
    names = {p.name for p in files}
    assert names == set(CORPUS) | WARNINGS_ONLY, "every bad fixture has its expected rule"
    assert len(CORPUS) + len(MADE) >= 40
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert len(digests) == len(files), "identical files would be taken as duplicates"


@pytest.mark.parametrize(("name", "rule_id", "row"), [(n, *r) for n, r in CORPUS.items()])
def test_bad_file_is_rejected_with_its_rule_and_warehouse_unchanged(
    home, wide_console, name, rule_id, row
):
    submit_and_check(home, BAD / name, rule_id, row)


@pytest.mark.parametrize("name", list(MADE))
def test_made_bad_file_is_rejected_with_its_rule_and_warehouse_unchanged(
    home, made, wide_console, name
):
    _, rule_id, row = MADE[name]
    submit_and_check(home, made[name], rule_id, row)
    # a path-like name never leaves the home: the report and raw copy are inside it
    reports = list(home.reports.glob("*"))
    assert all(p.resolve().is_relative_to(home.root) for p in reports)
    assert not (home.root.parent / "reports").exists()


def test_the_warehouse_still_works_after_the_corpus(home):
    """Run last in the module: the first submission is still current and nothing was added."""
    tables = warehouse.read_tables(home, ["current_observations", "submissions"])
    current = tables["current_observations"]
    assert len(current) == 3 and set(current["country"]) == {"NLD"}
    statuses = tables["submissions"]["status"].value_counts().to_dict()
    assert statuses.get("accepted") == 1
    assert statuses.get("rejected", 0) >= 1


@pytest.mark.parametrize("name", ["binary_garbage.csv", "zip_bomb.xlsx", "header_only.csv"])
def test_the_real_command_prints_one_reason_and_no_traceback(tmp_path, name):
    """A few files through the installed `tipstats` program, as a user runs it."""
    executable = Path(sys.executable).parent / "tipstats"
    completed = subprocess.run(
        [str(executable), "submit", str(BAD / name), "--home", str(tmp_path / "home")],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    assert CORPUS[name][0] in completed.stdout
    assert "rejected" in completed.stdout
