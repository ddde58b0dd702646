"""The one-pass reader of plain CSV files gives exactly what the careful reader gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipstats.readers import (
    ParsedFile,
    _read_plain,
    header_aliases,
    read_submission,
    read_submission_carefully,
)
from tipstats.sample_files import generate_sample_files

FIXTURES = Path(__file__).parents[1] / "fixtures"
HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment"
ROW = "BRA,2022,VICTIMS_DETECTED,F,_T,SEXUAL,_T,12,A,POLICE,"


def assert_same(fast: ParsedFile, careful: ParsedFile) -> None:
    pd.testing.assert_frame_equal(fast.frame, careful.frame, check_exact=True)
    assert fast.frame.dtypes.to_dict() == careful.frame.dtypes.to_dict()
    assert fast.frame.columns.dtype == careful.frame.columns.dtype
    assert type(fast.frame.index) is type(careful.frame.index)
    pd.testing.assert_frame_equal(fast.problems, careful.problems, check_exact=True)
    for name in ("layout", "path", "file_type", "encoding", "delimiter", "sheet"):
        assert getattr(fast, name) == getattr(careful, name), name
    assert (fast.header_row, fast.n_rows) == (careful.header_row, careful.n_rows)


def read_both(path: Path) -> tuple[ParsedFile, ParsedFile]:
    return read_submission(path), read_submission_carefully(path)


def is_plain(path: Path) -> bool:
    return _read_plain(path, header_aliases()) is not None


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (FIXTURES / "good").iterdir() if p.is_file())
    + sorted(p for p in (FIXTURES / "bad").iterdir() if p.is_file() and p.stat().st_size < 2**21),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_fixture_reads_the_same(path: Path) -> None:
    try:
        careful = read_submission_carefully(path)
    except Exception as problem:  # a usage error (file type) must be the same error
        with pytest.raises(type(problem)):
            read_submission(path)
        return
    assert_same(read_submission(path), careful)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("world")
    return generate_sample_files(folder, 4, [2019, 2024], seed=5).paths


def test_generated_files_take_the_plain_path_and_read_the_same(generated: list[Path]) -> None:
    for path in generated:
        assert is_plain(path), path.name
        assert_same(*read_both(path))


def _edits() -> dict[str, tuple[object, bool]]:
    """Name -> (edit of the file's text, whether the plain reader takes the result)."""

    def cell_edit(column: int, value: str):
        def edit(text: str) -> str:
            lines = text.split("\n")
            cells = lines[2].split(",")
            cells[column] = value
            lines[2] = ",".join(cells)
            return "\n".join(lines)

        return edit

    return {
        "crlf": (lambda t: t.replace("\n", "\r\n"), True),
        "no final line break": (lambda t: t.rstrip("\n"), True),
        "trailing spaces": (cell_edit(7, "12  "), True),
        "leading spaces": (cell_edit(0, "  BRA"), True),
        "accented comment": (cell_edit(10, "révisé à la hausse"), True),
        "blank cells": (cell_edit(5, ""), True),
        "upper-case header": (lambda t: t.replace("country,year", "COUNTRY,Year", 1), True),
        "semicolons": (lambda t: t.replace(",", ";"), False),
        "semicolon in a comment": (cell_edit(10, "a; b"), False),
        "tab in a comment": (cell_edit(10, "a\tb"), False),
        "quoted comma": (cell_edit(10, '"Police, courts"'), False),
        "quote inside a cell": (cell_edit(10, 'the "new" law'), False),
        "formula": (cell_edit(10, "=HYPERLINK(1)"), False),
        "formula after spaces": (cell_edit(7, " +SUM(A1)"), False),
        "negative number": (cell_edit(7, "-5"), False),
        "at sign": (cell_edit(10, "@home"), False),
        "blank line": (lambda t: t.replace("\n", "\n\n", 3), False),
        "blank lines at the end": (lambda t: t + "\n\n", False),
        "row of blank cells": (lambda t: t + ",,, ,,,,,,,\n", False),
        "short row": (lambda t: t + "BRA,2022\n", False),
        "long row": (lambda t: t + ROW + ",extra\n", False),
        "long row, blank extra": (lambda t: t + ROW + ", \n", False),
        "lone carriage return": (cell_edit(10, "a\rb"), False),
        "form feed": (cell_edit(10, "a\x0cb"), False),
        "unknown column": (lambda t: t.replace("comment", "zz extra", 1), False),
        "header only": (lambda t: t.split("\n")[0] + "\n", False),
        "columns reordered": (lambda t: _swap_columns(t, 0, 1), True),
        "without the comment column": (lambda t: _drop_last_column(t), True),
        "title above the header": (lambda t: "Submission 2022\n" + t, False),
        "nbsp thousands": (cell_edit(7, "1\u00a0282"), True),
    }


def _swap_columns(text: str, a: int, b: int) -> str:
    out = []
    for line in text.rstrip("\n").split("\n"):
        cells = line.split(",")
        cells[a], cells[b] = cells[b], cells[a]
        out.append(",".join(cells))
    return "\n".join(out) + "\n"


def _drop_last_column(text: str) -> str:
    return "\n".join(line.rsplit(",", 1)[0] for line in text.rstrip("\n").split("\n")) + "\n"


@pytest.mark.parametrize("name", list(_edits()))
def test_edited_files_read_the_same(generated: list[Path], tmp_path: Path, name: str) -> None:
    edit, plain = _edits()[name]
    text = generated[0].read_text(encoding="utf-8")
    for encoding in ("utf-8", "utf-8-sig", "cp1252"):
        path = tmp_path / f"{encoding}.csv"
        try:
            path.write_bytes(edit(text).encode(encoding))
        except UnicodeEncodeError:
            continue
        assert_same(*read_both(path))
        if encoding != "cp1252" or edit(text).isascii():
            assert is_plain(path) is plain, (name, encoding)


def test_a_large_file_is_left_to_the_arrow_reader(tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    path.write_text(HEADER + "\n" + (ROW + "\n") * 40_000, encoding="utf-8")
    assert not is_plain(path)
    assert_same(*read_both(path))


safe_cells = st.text(alphabet=st.sampled_from(list('aZ1 ,;\t"=-+@é\r\n_.<5')), max_size=6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(safe_cells, min_size=9, max_size=12), min_size=0, max_size=5),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
)
def test_any_table_reads_the_same(rows: list[list[str]], newline: str, bom: bool) -> None:
    import tempfile

    text = newline.join([HEADER] + [",".join(row) for row in rows]) + newline
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
        assert_same(*read_both(path))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_arrow_reader_agrees_with_the_row_reader_in_every_encoding(
    tmp_path: Path, encoding: str, newline: str
) -> None:
    """The arrow reader parses the file's own bytes below the header when they are UTF-8 (BOM
    or not), and the text encoded again otherwise: the row-by-row reader must agree."""
    from unittest import mock

    from tipstats import readers

    rows = [ROW, ROW.replace("POLICE,", "POLICE,révisé"), ROW.replace("12", '"1,282"')]
    path = tmp_path / "file.csv"
    path.write_bytes(newline.join([HEADER, *rows, ""]).encode(encoding))
    assert readers._read_text(path, header_aliases()).columns is not None  # arrow read it
    with mock.patch.object(readers, "_read_plain", return_value=None):
        arrow = read_submission(path)
        assert arrow.n_rows == 3 and arrow.frame["comment"].iloc[1] == "révisé"
        with mock.patch.object(readers, "_read_regular_csv", return_value=False):
            rows_only = read_submission(path)
    assert_same(arrow, rows_only)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([], False),
        (["", "a" * 10], False),
        (["é" * 70_000], False),  # 140,000 bytes but 70,000 characters
        (["a" * 131_072], False),
        (["a", "a" * 131_073], True),
        (["é" * 131_073], True),
    ],
)
def test_long_cells_are_counted_in_characters(cells, expected):
    import pyarrow as pa
    import pyarrow.compute as pc

    from tipstats.readers import _has_cell_longer_than

    column = pa.chunked_array([pa.array(cells, type=pa.large_string())])
    assert _has_cell_longer_than(column, 131_072) is expected
    if cells:
        assert (pc.max(pc.utf8_length(column)).as_py() > 131_072) is expected


@pytest.mark.parametrize(
    "cells",
    [
        ["NLD", "FRA"],
        ["12", "-3"],  # a minus that is no formula: the exact test decides
        ["a", "  =SUM(A1)"],
        ["", "@x"],
        ["a", None],
        ["1+1", "x"],
        [],
        [""],
    ],
)
@pytest.mark.parametrize("layout", ["one chunk", "chunks", "slice"])
def test_formula_scan_by_bytes_agrees_with_the_distinct_texts(cells, layout):
    import pyarrow as pa
    import pyarrow.compute as pc

    from tipstats.readers import _FORMULA_CHARS, _may_hold_formulas

    padded = ["=A1", *cells, "+B2"] if layout == "slice" else cells
    array = pa.array(padded, type=pa.large_string())
    if layout == "slice":  # the buffers hold formulas outside the slice
        column = pa.chunked_array([array.slice(1, len(cells))], type=pa.large_string())
    elif layout == "chunks":
        column = pa.chunked_array([array[:1], array[1:]], type=pa.large_string())
    else:
        column = pa.chunked_array([array], type=pa.large_string())
    series = pd.Series(pd.arrays.ArrowStringArray(column, dtype=pd.StringDtype("pyarrow", np.nan)))
    texts = pc.unique(column).to_pylist()
    expected = any(t is None or t.lstrip()[:1] in _FORMULA_CHARS for t in texts)
    assert _may_hold_formulas(series) is expected
