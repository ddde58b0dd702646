"""Any bytes in: a ParsedFile out, with problems or a clean frame; never an unhandled exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipstats import columns as C
from tipstats.readers import ParsedFile, read_submission
from tipstats.report_frame import REPORT_COLUMNS

FRAME_COLUMNS = {*C.TEMPLATE_COLUMNS, C.SOURCE_ROW}
HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_bytes(data: bytes, suffix: str) -> ParsedFile:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        return read_submission(path)


def assert_well_formed(parsed: ParsedFile) -> None:
    assert list(parsed.problems.columns) == list(REPORT_COLUMNS)
    assert set(parsed.problems["severity"]) <= {"error", "warning"}
    assert set(parsed.frame.columns) <= FRAME_COLUMNS
    assert C.SOURCE_ROW in parsed.frame.columns
    assert parsed.layout in {"template", "dataunodc"}
    if len(parsed.frame):
        assert parsed.frame[C.SOURCE_ROW].notna().all()
        assert parsed.frame[C.SOURCE_ROW].min() >= 1
    if parsed.frame.empty:
        assert len(parsed.problems), "an empty result must say why"


@SETTINGS
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".csv", ".xlsx", ".tsv"]))
def test_any_bytes(data: bytes, suffix: str) -> None:
    assert_well_formed(read_bytes(data, suffix))


cells = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12
)  # any text, quotes, delimiters and line breaks included


@SETTINGS
@given(
    rows=st.lists(st.lists(cells, max_size=13), max_size=8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_any_table_under_a_template_header(rows, delimiter, encoding, newline) -> None:
    lines = [HEADER.replace(",", delimiter)] + [delimiter.join(row) for row in rows]
    data = newline.join(lines).encode(encoding, errors="replace")
    parsed = read_bytes(data, ".csv")
    assert_well_formed(parsed)
    if parsed.problems.empty:
        assert parsed.layout == "template"


def read_both_ways(data: bytes) -> tuple[ParsedFile, ParsedFile]:
    """The file read as usual (pyarrow for a regular file) and by the row-by-row reader only."""
    from unittest import mock

    from tipstats import readers

    usual = read_bytes(data, ".csv")
    with mock.patch.object(readers, "_read_regular_csv", return_value=False):
        exact = read_bytes(data, ".csv")
    return usual, exact


quoted_cells = st.lists(
    st.sampled_from(list('aé1 ,;"\t<5=-.\r\n') + ["\r\n", "NLD", "2021", "_T"]), max_size=4
).map("".join)


@settings(SETTINGS, max_examples=60)  # each example is read twice
@given(
    rows=st.lists(st.lists(quoted_cells, min_size=11, max_size=11), max_size=8),
    delimiter=st.sampled_from([",", ";", "\t"]),
    quoting=st.sampled_from([0, 1, 3]),  # csv.QUOTE_MINIMAL, QUOTE_ALL, QUOTE_NONE-ish
    blank_lines=st.booleans(),
    crlf=st.booleans(),
    plain=st.booleans(),
)
def test_fast_and_exact_csv_readers_agree(rows, delimiter, quoting, blank_lines, crlf, plain):
    """Whatever the quoting, the fast reader gives the frame and problems of the exact one
    (or leaves the file to it)."""
    import csv
    import io

    buffer = io.StringIO()
    newline = "\r\n" if crlf else "\n"
    writer = csv.writer(
        buffer,
        delimiter=delimiter,
        lineterminator=newline,
        quoting=quoting if quoting != 3 else csv.QUOTE_NONE,
        escapechar="\\" if quoting == 3 else None,
    )
    writer.writerow(HEADER.split(","))
    if plain:  # no quote and no line break in any cell: the files the fast reader takes
        rows = [[c.translate({ord(x): None for x in '"\r\n'}) for c in row] for row in rows]
    for row in rows:
        writer.writerow(row)
        if blank_lines:
            buffer.write(newline)
    usual, exact = read_both_ways(buffer.getvalue().encode("utf-8"))
    pd.testing.assert_frame_equal(usual.frame, exact.frame)
    pd.testing.assert_frame_equal(usual.problems, exact.problems)
    assert (usual.layout, usual.n_rows, usual.header_row) == (
        exact.layout,
        exact.n_rows,
        exact.header_row,
    )
