from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tipstats import columns as C
from tipstats.errors import UsageError
from tipstats.readers import ParsedFile, read_submission

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
GLOTIP = Path("/work/shared/research-data/glotip")
HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment"
ROW = "NLD,2021,VICTIMS_DETECTED,F,_T,_T,_T,800,A,POLICE,"


def rules(parsed: ParsedFile) -> list[tuple[str, str, object, object]]:
    table = parsed.problems
    return [
        (
            r.rule_id,
            r.severity,
            None if pd.isna(r.row) else int(r.row),
            None if pd.isna(r.column) else r.column,
        )
        for r in table.itertuples()
    ]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- one fixture per reader-level defect: exact rule, severity, row and column ------------------
BAD_CASES = [
    ("empty.csv", "structure.empty_file", "error", None, None),
    ("blank_lines_only.csv", "structure.empty_file", "error", None, None),
    ("header_only.csv", "structure.no_data_rows", "error", 1, None),
    ("ragged_rows.csv", "structure.ragged_row", "error", 3, None),
    ("short_row.csv", "structure.ragged_row", "error", 4, None),
    ("no_header.csv", "structure.no_header", "error", None, None),
    ("missing_column.csv", "structure.missing_column", "error", None, "value"),
    ("duplicate_column.csv", "structure.duplicate_column", "error", 1, "value"),
    ("unknown_column.csv", "structure.unknown_column", "warning", 1, "region"),
    ("formula_cells.csv", "value.formula_like", "error", 3, "comment"),
    ("formula_cells.csv", "value.formula_like", "error", 4, "value"),
    ("semicolon_bad_quoting.csv", "structure.bad_quoting", "error", 3, None),
    ("unclosed_quote.csv", "structure.bad_quoting", "error", 3, None),
    ("binary_garbage.csv", "file.not_text", "error", None, None),
    ("nul_bytes.csv", "file.not_text", "error", None, None),
    ("pdf_renamed.csv", "file.not_text", "error", None, None),
    ("workbook_renamed.csv", "file.not_text", "error", None, None),
    ("wrong_encoding_mixed.csv", "file.encoding", "error", 3, None),
    ("wrong_encoding_undefined_bytes.csv", "file.encoding", "error", 2, None),
    ("bom_then_latin1.csv", "file.encoding", "error", 2, None),
    ("not_a_zip.xlsx", "file.not_xlsx", "error", None, None),
    ("zip_not_workbook.xlsx", "file.not_xlsx", "error", None, None),
    ("truncated.xlsx", "file.not_xlsx", "error", None, None),
    ("zip_bomb.xlsx", "file.zip_bomb", "error", None, None),
    ("dataunodc_missing_txtvalue.csv", "structure.missing_column", "error", None, "txtVALUE"),
    ("utf16_without_bom.csv", "file.not_text", "error", None, None),
    ("old_excel_renamed.xlsx", "file.not_xlsx", "error", None, None),
    ("html_page.csv", "structure.no_header", "error", None, None),
    ("json_document.csv", "structure.no_header", "error", None, None),
    ("only_delimiters.csv", "structure.no_header", "error", None, None),
    ("unbalanced_quotes_everywhere.csv", "structure.bad_quoting", "error", 2, None),
    ("formula_in_comment_dde.csv", "value.formula_like", "error", 3, "comment"),
    ("mixed_delimiters.csv", "structure.ragged_row", "error", 3, None),
    ("workbook_without_header.xlsx", "structure.no_header", "error", None, None),
]


@pytest.mark.parametrize(("name", "rule_id", "severity", "row", "column"), BAD_CASES)
def test_bad_fixture_reports_its_rule_and_row(name, rule_id, severity, row, column):
    parsed = read_submission(BAD / name)
    assert (rule_id, severity, row, column) in rules(parsed), rules(parsed)
    assert list(parsed.problems.columns) == [
        "rule_id",
        "severity",
        "row",
        "column",
        "value",
        "message",
    ]
    assert parsed.problems["message"].str.len().min() > 10


def test_every_reader_fixture_is_covered_by_a_case():
    covered = {case[0] for case in BAD_CASES}
    made = {
        "empty.csv",
        "blank_lines_only.csv",
        "header_only.csv",
        "ragged_rows.csv",
        "short_row.csv",
        "no_header.csv",
        "missing_column.csv",
        "duplicate_column.csv",
        "unknown_column.csv",
        "formula_cells.csv",
        "semicolon_bad_quoting.csv",
        "unclosed_quote.csv",
        "binary_garbage.csv",
        "nul_bytes.csv",
        "pdf_renamed.csv",
        "workbook_renamed.csv",
        "wrong_encoding_mixed.csv",
        "wrong_encoding_undefined_bytes.csv",
        "bom_then_latin1.csv",
        "not_a_zip.xlsx",
        "zip_not_workbook.xlsx",
        "truncated.xlsx",
        "zip_bomb.xlsx",
        "dataunodc_missing_txtvalue.csv",
        "utf16_without_bom.csv",
        "old_excel_renamed.xlsx",
        "html_page.csv",
        "json_document.csv",
        "only_delimiters.csv",
        "unbalanced_quotes_everywhere.csv",
        "formula_in_comment_dde.csv",
        "mixed_delimiters.csv",
        "workbook_without_header.xlsx",
    }
    assert made <= covered
    assert all((BAD / name).exists() for name in made)


def test_utf16_without_bom_is_named(tmp_path):
    path = write(tmp_path, "u16.csv", (HEADER + "\n" + ROW + "\n").encode("utf-16-le"))
    parsed = read_submission(path)
    assert rules(parsed) == [("file.not_text", "error", None, None)]
    assert "UTF-16" in parsed.problems["message"].iloc[0]


def test_fatal_problems_leave_an_empty_template_frame():
    parsed = read_submission(BAD / "binary_garbage.csv")
    assert parsed.frame.empty
    assert list(parsed.frame.columns) == [*C.TEMPLATE_COLUMNS, C.SOURCE_ROW]
    assert parsed.has_errors


def test_ragged_long_row_is_left_out_short_row_is_padded():
    long = read_submission(BAD / "ragged_rows.csv")
    assert 3 not in set(long.frame[C.SOURCE_ROW])
    assert list(long.frame[C.SOURCE_ROW]) == [2, 4]
    short = read_submission(BAD / "short_row.csv")
    padded = short.frame[short.frame[C.SOURCE_ROW] == 4].iloc[0]
    assert padded[C.SEX] == "M"
    assert padded[C.VALUE] == ""


def test_missing_required_column_is_left_out_of_the_frame():
    parsed = read_submission(BAD / "missing_column.csv")
    assert C.VALUE not in parsed.frame.columns
    assert C.COUNTRY in parsed.frame.columns


def test_formula_like_cells_spare_numbers_and_dashes(tmp_path):
    body = "\n".join(
        [
            HEADER,
            "NLD,2021,VICTIMS_DETECTED,F,_T,_T,_T,-5,A,POLICE,-",
            "NLD,2021,VICTIMS_DETECTED,M,_T,_T,_T,+12,A,POLICE,+33 6 12",
            "NLD,2021,VICTIMS_DETECTED,M,_T,_T,_T,12,A,POLICE,- revised in 2022",
            "NLD,2021,VICTIMS_DETECTED,_T,_T,_T,_T,-2+3+cmd|' /C calc'!A0,A,POLICE,",
        ]
    )
    parsed = read_submission(write(tmp_path, "f.csv", body))
    assert rules(parsed) == [("value.formula_like", "error", 5, "value")]


def test_values_under_a_blank_header_cell_are_reported(tmp_path):
    body = HEADER + ",\n" + ROW + ",\n" + ROW + ",stray\n"
    parsed = read_submission(write(tmp_path, "stray.csv", body))
    assert rules(parsed) == [("structure.unnamed_column", "warning", 3, "column 12")]
    assert len(parsed.frame) == 2


def test_duplicate_column_keeps_the_first(tmp_path):
    parsed = read_submission(BAD / "duplicate_column.csv")
    assert list(parsed.frame[C.VALUE]) == ["1282", "800", "482"]


# --- what real offices send ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "delimiter", "encoding"),
    [
        ("utf8_bom.csv", ",", "utf-8-sig"),
        ("semicolon.csv", ";", "utf-8"),
        ("tab.tsv", "\t", "utf-8"),
        ("crlf.csv", ",", "utf-8"),
        ("blank_trailing_lines.csv", ",", "utf-8"),
        ("header_variants.csv", ",", "utf-8"),
        ("excel_unicode_text.txt", "\t", "utf-16"),
    ],
)
def test_template_variants_read_the_same(name, delimiter, encoding):
    parsed = read_submission(GOOD / name)
    assert parsed.layout == "template"
    assert parsed.delimiter == delimiter
    assert parsed.encoding == encoding
    assert not parsed.has_errors, rules(parsed)
    assert list(parsed.frame.columns) == [*C.TEMPLATE_COLUMNS, C.SOURCE_ROW]
    assert list(parsed.frame[C.VALUE]) == ["1282", "800", "482"]
    assert list(parsed.frame[C.SEX]) == ["_T", "F", "M"]
    assert list(parsed.frame[C.SOURCE_ROW]) == [2, 3, 4]
    assert parsed.header_row == 1
    assert parsed.n_rows == 3


def test_cp1252_is_read_and_flagged(tmp_path):
    parsed = read_submission(GOOD / "cp1252_french.csv")
    assert parsed.encoding == "cp1252"
    assert rules(parsed) == [("file.encoding_not_utf8", "warning", 1, None)]
    assert "Windows-1252" in parsed.problems["message"].iloc[0]
    row = parsed.frame.iloc[0]
    assert row[C.COUNTRY] == "Côte d'Ivoire"
    assert row[C.SEX] == "Femme"
    assert row[C.INDICATOR] == "Victimes de la traite détectées"
    assert row[C.COMMENT] == "données révisées"


def test_spanish_header_and_labels_kept_as_text():
    parsed = read_submission(GOOD / "spanish_labels.csv")
    assert not parsed.has_errors
    row = parsed.frame.iloc[0]
    assert (row[C.COUNTRY], row[C.YEAR], row[C.SEX], row[C.VALUE]) == (
        "Perú",
        "2020",
        "Mujer",
        "1 282",
    )


def test_quoted_fields_keep_delimiters_and_quotes():
    parsed = read_submission(GOOD / "quoted_fields.csv")
    row = parsed.frame.iloc[0]
    assert row[C.VALUE] == "1,282"
    assert row[C.COMMENT] == 'revised, see "note" 2'


def test_optional_columns_absent_are_blank(tmp_path):
    body = "country,year,indicator,sex,age,exploitation,citizenship,value\n"
    body += "NLD,2021,VICTIMS_DETECTED,F,_T,_T,_T,800\n"
    parsed = read_submission(write(tmp_path, "min.csv", body))
    assert not len(parsed.problems)
    assert list(parsed.frame.columns) == [*C.TEMPLATE_COLUMNS, C.SOURCE_ROW]
    assert parsed.frame[C.STATUS].iloc[0] == ""


def test_header_below_a_title_row(tmp_path):
    body = "Victims 2021,,\n\n" + HEADER + "\n" + ROW + "\n"
    parsed = read_submission(write(tmp_path, "titled.csv", body))
    assert parsed.header_row == 3
    assert list(parsed.frame[C.SOURCE_ROW]) == [4]


def test_blank_rows_inside_are_skipped_and_rows_keep_their_numbers(tmp_path):
    body = HEADER + "\n" + ROW + "\n\n,,,,,,,,,,\n" + ROW.replace("800", "9") + "\n"
    parsed = read_submission(write(tmp_path, "gaps.csv", body))
    assert list(parsed.frame[C.SOURCE_ROW]) == [2, 5]
    assert not len(parsed.problems)


def test_xlsx_data_sheet_numbers_as_text():
    parsed = read_submission(GOOD / "data_sheet.xlsx")
    assert parsed.sheet == "data"
    assert parsed.file_type == "xlsx"
    assert not len(parsed.problems), rules(parsed)
    assert list(parsed.frame[C.YEAR]) == ["2021", "2021", "2021"]
    assert list(parsed.frame[C.VALUE]) == ["1282", "800", "482"]
    assert list(parsed.frame[C.SOURCE_ROW]) == [2, 3, 5]  # row 4 is blank in the sheet


def test_xlsx_first_sheet_with_a_header_and_cell_types(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["Read me"])
    sheet = workbook.create_sheet("Victims")
    sheet.append([None])
    sheet.append(HEADER.split(","))
    sheet.append(["NLD", 2021, "VICTIMS_DETECTED", "F", "_T", "_T", "_T", 3.5, None, True, None])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    parsed = read_submission(path)
    assert parsed.sheet == "Victims"
    assert parsed.header_row == 2
    row = parsed.frame.iloc[0]
    assert (row[C.VALUE], row[C.SOURCE], row[C.SOURCE_ROW]) == ("3.5", "TRUE", 3)


def test_xlsx_mixed_number_and_text_column(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(HEADER.split(","))
    for value in (1282, "<5", 3.5, "1,282", -4, None):
        workbook.active.append(["NLD", 2021, "VICTIMS_DETECTED", "F", "_T", "_T", "_T", value])
    path = tmp_path / "mixed.xlsx"
    workbook.save(path)
    parsed = read_submission(path)
    assert list(parsed.frame[C.VALUE]) == ["1282", "<5", "3.5", "1,282", "-4", ""]
    assert list(parsed.frame[C.YEAR].unique()) == ["2021"]


def test_formula_in_xlsx_is_flagged(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(HEADER.split(","))
    workbook.active.append(["NLD", 2021, "VICTIMS_DETECTED", "F", "_T", "_T", "_T", "@cmd"])
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    assert ("value.formula_like", "error", 2, "value") in rules(read_submission(path))


def test_password_protected_workbook_is_named(tmp_path):
    path = write(tmp_path, "locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    parsed = read_submission(path)
    assert rules(parsed) == [("file.not_xlsx", "error", None, None)]
    assert "password" in parsed.problems["message"].iloc[0]


def test_excel_sep_line_is_skipped(tmp_path):
    body = "sep=;\n" + HEADER.replace(",", ";") + "\n" + ROW.replace(",", ";") + "\n"
    parsed = read_submission(write(tmp_path, "excel.csv", body))
    assert parsed.delimiter == ";"
    assert parsed.header_row == 2
    assert list(parsed.frame[C.VALUE]) == ["800"]
    assert not len(parsed.problems)


def test_zip_that_lies_about_its_size_is_refused(tmp_path):
    """Declared sizes can lie: members are decompressed as streams and checked, never trusted."""
    import struct

    path = tmp_path / "lying.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<w/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<a/>" * 3_000_000)
    data = bytearray(path.read_bytes())
    real = struct.pack("<I", 12_000_000)
    lie = struct.pack("<I", 1_000)
    assert data.count(real) == 2  # local header and central directory
    path.write_bytes(bytes(data).replace(real, lie))
    with zipfile.ZipFile(path) as archive:
        assert max(info.file_size for info in archive.infolist()) == 1_000
    parsed = read_submission(path)
    assert parsed.frame.empty
    assert parsed.has_errors
    assert set(parsed.problems["rule_id"]) <= {"file.zip_bomb", "file.not_xlsx"}


def test_zip_bomb_over_the_total_limit(tmp_path, monkeypatch):
    import tipstats.readers as readers

    path = tmp_path / "big.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<w/>")
        archive.writestr("xl/worksheets/sheet1.xml", os.urandom(300_000))
    monkeypatch.setattr(readers, "MAX_XLSX_UNCOMPRESSED", 200_000)
    assert rules(read_submission(path)) == [("file.zip_bomb", "error", None, None)]


def test_huge_cell_is_reported(tmp_path):
    body = HEADER + "\n" + ROW[:-1] + "x" * 200_000 + "\n" + ROW + "\n"
    parsed = read_submission(write(tmp_path, "long.csv", body))
    assert ("structure.cell_too_long", "error", 2, None) in rules(parsed)


# --- usage errors: the only exceptions ----------------------------------------------------------
def test_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file") as caught:
        read_submission(tmp_path / "absent.csv")
    assert caught.value.exit_code == 2


def test_unsupported_extension_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"unsupported file type `\.pdf`"):
        read_submission(write(tmp_path, "report.pdf", "x"))
    with pytest.raises(UsageError, match="not a file"):
        read_submission(tmp_path)


# --- fast on big and hostile input --------------------------------------------------------------
def test_50_mb_of_random_bytes_is_one_reading_error(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(os.urandom(50 * 2**20))
    parsed = read_submission(path)
    assert rules(parsed) == [("file.not_text", "error", None, None)]


def test_50_mb_of_text_junk_is_one_structure_error(tmp_path):
    path = tmp_path / "junk.csv"
    line = b"lorem ipsum dolor sit amet consectetur;adipiscing elit sed do eiusmod\n"
    path.write_bytes(line * (50 * 2**20 // len(line)))
    parsed = read_submission(path)
    assert rules(parsed) == [("structure.no_header", "error", None, None)]


def test_100k_rows_are_read_in_full(tmp_path):
    # how fast: bench/bench_validation.py and bench/run.py measure it, not a timed test
    rows = [HEADER] + [
        f"NLD,{2000 + i % 20},VICTIMS_DETECTED,F,_T,SEXUAL,_T,{i % 977},A,POLICE,"
        for i in range(100_000)
    ]
    path = write(tmp_path, "big.csv", "\n".join(rows) + "\n")
    parsed = read_submission(path)
    assert len(parsed.frame) == 100_000
    assert parsed.frame[C.SOURCE_ROW].iloc[-1] == 100_001


# --- the dataUNODC export -----------------------------------------------------------------------
def test_dataunodc_layout_detected_from_header_not_name(tmp_path):
    path = tmp_path / "template_upload.csv"
    path.write_bytes((GOOD / "dataunodc_sample.csv").read_bytes())
    parsed = read_submission(path)
    assert parsed.layout == "dataunodc"
    assert list(parsed.frame.columns) == [*C.TEMPLATE_COLUMNS, C.SOURCE_ROW]


def test_dataunodc_xlsx_with_preamble_keeps_sheet_rows():
    parsed = read_submission(GOOD / "dataunodc_preamble.xlsx")
    assert parsed.layout == "dataunodc"
    assert parsed.header_row == 3
    assert parsed.n_rows == 6
    frame = parsed.frame
    assert list(frame[C.SOURCE_ROW]) == [4, 5, 6, 8]
    assert list(frame[C.YEAR].unique()) == ["2019"]
    assert frame[C.VALUE].iloc[0] == "1,282"
    assert ("dataunodc.repatriation_not_modelled", "warning", 9, "Category") in rules(parsed)
    assert ("dataunodc.subforms_summed", "warning", 6, "value") in rules(parsed)


@pytest.mark.skipif(not GLOTIP.exists(), reason="research data not available")
def test_real_dataunodc_sample_every_row_loaded_or_reported():
    parsed = read_submission(GLOTIP / "data_glotip_2023-05-30_sample6.csv")
    assert parsed.layout == "dataunodc"
    assert parsed.n_rows == 3139
    assert not parsed.has_errors
    accounted = set(parsed.frame[C.SOURCE_ROW].astype(int))
    problems = parsed.problems
    accounted |= set(problems.loc[problems["row"].notna(), "row"].astype(int))
    for message in problems.loc[problems["rule_id"] == "dataunodc.subforms_summed", "message"]:
        listed = message.removeprefix("rows ").split(" are ")[0]
        accounted |= {int(part) for part in listed.split(", ")}
    assert accounted == set(range(2, 3141))
