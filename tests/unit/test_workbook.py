"""The column-wise report workbook against the openpyxl one, both read back with openpyxl."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from openpyxl import load_workbook

from tipstats.disclosure import (
    FLAG,
    NOT_AVAILABLE,
    OBSERVED,
    SUPPRESSED_PRIMARY,
    SUPPRESSED_SECONDARY,
    DisclosureConfig,
)
from tipstats.exports import _xlsx_bytes
from tipstats.report_tables import PublishedTable
from tipstats.workbook import (
    _as_openpyxl,
    _entry,
    _openpyxl_numbers,
    _WorkbookWriter,
    report_workbook_bytes,
)

FLAGS = [OBSERVED, SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY, NOT_AVAILABLE]
# Texts a spreadsheet or an XML writer could get wrong.
TEXTS = [
    '=HYPERLINK("x")',
    "+1",
    "-",
    "@a",
    "\tTab",
    "A & B <c> \"d\" 'e'",
    " lead",
    "",
    "Ünïcødé",
    "a\rb",
    "line\nbreak",
    "trailing ",
]
# Floats whose "%.16g" differs from repr, whole floats (read back as int), tiny and huge ones.
FLOATS = [0.1 + 0.2, 1 / 3, 5.0, 1e-7, 123456789.123456789, 2.5e20, -0.0, 0.07]


def _table(name: str, frame: pd.DataFrame, title: str = "A title") -> PublishedTable:
    return PublishedTable(
        name=name,
        title=title,
        units="persons",
        notes="=coverage & method <notes>",
        frame=frame,
        count_columns=("value",),
        audit=pd.DataFrame(),
    )


def _mixed_frame(n: int, seed: int) -> pd.DataFrame:
    """Every column type the report tables use, with gaps, hidden counts and awkward texts."""
    rng = np.random.default_rng(seed)
    flags = rng.choice(FLAGS, n)
    value = pd.array(rng.integers(0, 10**9, n), dtype="Int64")
    value[flags != OBSERVED] = pd.NA
    base_flags = rng.choice(FLAGS, n)
    base = pd.array(rng.integers(0, 1000, n), dtype="Int64")
    base[base_flags != OBSERVED] = pd.NA
    floats = rng.choice(FLOATS, n) * rng.choice([1.0, -1.0], n)
    shares = pd.array(rng.random(n), dtype="Float64")
    shares[rng.random(n) < 0.3] = pd.NA
    population = rng.random(n) * 1e7
    population[rng.random(n) < 0.2] = np.nan
    sex = np.array(rng.choice(["F", "M", None], n), dtype=object)
    return pd.DataFrame(
        {
            "region_name": pd.Series(rng.choice(TEXTS, n), dtype="str"),
            "sex": sex,
            "year": rng.integers(2000, 2030, n).astype("int32"),
            "n_countries": rng.integers(0, 200, n).astype("int64"),
            "value": value,
            "rate_per_100k": pd.array(floats, dtype="Float64"),
            "share": shares,
            "population": population,
            "index": floats,
            "base_below_minimum": rng.random(n) < 0.5,
            FLAG: pd.array(flags, dtype="string"),
            "base_persons": base,
            "base_flag": pd.array(base_flags, dtype="string"),
            "a_very_long_column_name_for_width": rng.choice(TEXTS, n),
        }
    )


def _tables() -> list[PublishedTable]:
    return [
        _table("regional_totals", _mixed_frame(300, 1), title="Detected victims"),
        _table("empty_rows", _mixed_frame(0, 2)),
        _table("no_title", _mixed_frame(5, 3), title=""),
        _table("a_sheet_name_longer_than_thirty_one_chars", _mixed_frame(40, 4), title="=bad"),
        _table("country_table", _mixed_frame(2000, 5)),
    ]


def _written_here(data: bytes) -> bool:
    """True for the column-wise writer's package, False for openpyxl's (the fallback)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"<Application>tipstats</Application>" in archive.read("docProps/app.xml")


def _read(data: bytes):
    return load_workbook(io.BytesIO(data))


def _assert_same_workbook(old_bytes: bytes, new_bytes: bytes) -> int:
    old, new = _read(old_bytes), _read(new_bytes)
    assert new.sheetnames == old.sheetnames
    compared = 0
    for a, b in zip(old.worksheets, new.worksheets, strict=True):
        assert b.freeze_panes == a.freeze_panes == "A6"
        widths = {k: d.width for k, d in a.column_dimensions.items()}
        assert {k: d.width for k, d in b.column_dimensions.items()} == widths
        assert (b.max_row, b.max_column) == (a.max_row, a.max_column)
        for row_a, row_b in zip(a.iter_rows(), b.iter_rows(), strict=True):
            for x, y in zip(row_a, row_b, strict=True):
                where = (a.title, x.coordinate)
                assert (type(y.value), y.value) == (type(x.value), x.value), where
                assert y.number_format == x.number_format, where
                assert (y.font.b, y.font.sz) == (x.font.b, x.font.sz), where
                compared += 1
    return compared


def test_same_workbook_as_openpyxl_writer() -> None:
    tables, config = _tables(), DisclosureConfig()
    new = report_workbook_bytes(tables, config)
    assert _written_here(new)
    compared = _assert_same_workbook(_xlsx_bytes(tables, config), new)
    assert compared > 2000 * 14


def test_hidden_counts_show_symbols_and_texts_are_neutralised() -> None:
    config = DisclosureConfig(threshold=10, secondary_symbol="s")
    sheet = _read(report_workbook_bytes(_tables(), config))["country_table"]
    assert sheet["A1"].value == "A title" and sheet["A1"].font.b and sheet["A1"].font.sz == 13
    assert sheet["A3"].value == "Notes: =coverage & method <notes>"
    titled = _read(report_workbook_bytes(_tables(), config)).worksheets[3]
    assert titled["A1"].value == "'=bad"
    header = [c.value for c in sheet[5]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(6)]
    assert len(rows) == 2000
    assert {r["value"] for r in rows if r[FLAG] == SUPPRESSED_PRIMARY} == {"<10"}
    assert {r["value"] for r in rows if r[FLAG] == SUPPRESSED_SECONDARY} == {"s"}
    assert {r["value"] for r in rows if r[FLAG] == NOT_AVAILABLE} == {None}
    assert {r["base_persons"] for r in rows if r["base_flag"] == SUPPRESSED_PRIMARY} == {"<10"}
    assert '\'=HYPERLINK("x")' in {r["region_name"] for r in rows}
    assert not any(str(r["region_name"]).startswith("=") for r in rows)


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(pd.to_datetime(["2024-01-02", "2024-03-04"])),  # a type it does not write
        pd.Series(["a", 1], dtype=object),  # mixed objects
        pd.Series([10**17, 3], dtype="int64"),  # beyond "%.16g"'s exact integers
    ],
)
def test_unknown_columns_fall_back_to_openpyxl(column: pd.Series) -> None:
    frame = pd.DataFrame({"value": [1, 2], "other": column})
    tables, config = [_table("t", frame)], DisclosureConfig()
    new = report_workbook_bytes(tables, config)
    assert not _written_here(new)
    _assert_same_workbook(_xlsx_bytes(tables, config), new)


def test_same_tables_same_bytes() -> None:
    tables, config = _tables(), DisclosureConfig()
    assert report_workbook_bytes(tables, config) == report_workbook_bytes(_tables(), config)


@pytest.mark.parametrize("rows_per_block", [1, 7, 299, 300, 301])
def test_sheets_written_in_blocks_give_the_same_bytes(rows_per_block: int) -> None:
    tables, config = _tables(), DisclosureConfig()
    whole = _WorkbookWriter(config, rows_per_block=10**9).write(tables)
    assert _WorkbookWriter(config, rows_per_block=rows_per_block).write(tables) == whole
    assert report_workbook_bytes(tables, config) == whole


def test_a_part_streamed_into_the_archive_is_the_part_written_whole() -> None:
    # The sheets go in piece by piece, the workbook used to write each one whole: deflate (and
    # the entry's header) must not depend on how the data was handed over.
    rng = np.random.default_rng(0)
    pieces = [rng.choice(TEXTS, int(n)).astype(str).tobytes() for n in rng.integers(0, 5000, 40)]

    def archive(streamed: bool) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
            if streamed:
                with out.open(_entry("xl/worksheets/sheet1.xml"), "w") as part:
                    for piece in pieces:
                        part.write(memoryview(piece))
            else:
                out.writestr(_entry("xl/worksheets/sheet1.xml"), b"".join(pieces))
        return buffer.getvalue()

    assert archive(streamed=True) == archive(streamed=False)


def test_floats_print_as_openpyxl_prints_them() -> None:
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2**63, 5000, dtype=np.int64).view(np.float64)
    whole = rng.integers(-(10**16), 10**16, 5000).astype(np.float64)
    special = [0.0, -0.0, 1e15, 1e15 - 1, -1e15, 5.0, np.inf, -np.inf, np.nan, None, 0.1 + 0.2]
    values = [*bits.tolist(), *whole.tolist(), *special]
    array = pa.array(values, pa.float64(), from_pandas=False)
    expected = [None if x is None else _as_openpyxl(x) for x in array.to_pylist()]
    assert _openpyxl_numbers(array).to_pylist() == expected
    assert _openpyxl_numbers(array.slice(3, 40)).to_pylist() == expected[3:43]
