"""Read a submitted file (IO): CSV or XLSX, template or dataUNODC layout -> a frame of text.

``read_submission(path)`` never raises for what a file holds: every defect (binary data, an
unknown encoding, ragged rows, a zip bomb...) becomes a row of ``ParsedFile.problems`` with a
stable rule id and the row the user sees. Only a call that cannot be served raises
``UsageError`` (a missing path, an unsupported file type).

Every cell is kept as the text the user wrote; the frame is always in the template layout
(``tipstats.columns.TEMPLATE_COLUMNS`` plus ``source_row``), the dataUNODC export being
converted by ``tipstats.layouts``. Accepted formats are described in ``docs/readers.md``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from tipstats import columns as C
from tipstats.errors import UsageError
from tipstats.home import reference_dir
from tipstats.layouts import (
    DATAUNODC,
    DATAUNODC_COLUMNS,
    TEMPLATE,
    HeaderMatch,
    dataunodc_to_template,
    header_key,
    match_header,
)
from tipstats.plain_csv import split_plain
from tipstats.report_frame import (
    ERROR,
    WARNING,
    concat_reports,
    empty_report,
    one_problem,
    problems,
)

TEXT_EXTENSIONS = (".csv", ".tsv", ".txt")
XLSX_EXTENSIONS = (".xlsx", ".xlsm")
DELIMITERS = (",", ";", "\t", "|")

# Limits that keep a hostile or broken file cheap to reject.
HEAD_BYTES = 64 * 1024  # enough to judge binary content and the header
MAX_TEXT_BYTES = 512 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED = 256 * 1024 * 1024  # the whole workbook, decompressed
MAX_XLSX_RATIO = 500  # real sheets compress 5-20x; a bomb compresses 1000x
MAX_XLSX_MEMBERS = 10_000
HEADER_SEARCH_ROWS = 20  # a header below a title or preamble (the dataUNODC export has 2 rows)
MAX_PARSE_ERRORS = 50  # after that many broken records the rest of the file is not trusted
PLAIN_MAX_BYTES = 2 * 2**20  # the one-pass reader of plain files takes files up to this size
# The text dtype of the frame's cells: pandas' default string type (arrow memory, NaN as null).
_TEXT = pd.StringDtype(storage="pyarrow", na_value=np.nan)

_ZIP_MAGIC = b"PK\x03\x04"
_BINARY_MAGICS = {
    _ZIP_MAGIC: "a zip archive or an Excel workbook (.xlsx): name it .xlsx, or save it as CSV",
    b"\xd0\xcf\x11\xe0": (
        "an old Excel (.xls) file or a password-protected workbook: save it as .xlsx without a "
        "password, or as CSV"
    ),
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
}
# Characters that a Western European text decoded as Windows-1252 plausibly holds, besides letters.
_PLAUSIBLE_SYMBOLS = set("\u00a0’‘“”–—…€°«»·ºª§©®¿¡×•´¨¸½¼¾±²³µ¶")
_UTF8_LATIN_PAIR = re.compile(rb"[\xc3\xc2][\x80-\xbf]")
# A cell a spreadsheet would run as a formula (CSV injection): `=...`, `@NAME`, or `+`/`-` followed
# by what only formulas hold (a call, a cell reference, a pipe to a program). `-5`, `+12`, `-`
# and `- revised` are left alone: they are numbers or words, for validation to judge.
_FORMULA_CHARS = ("=", "+", "-", "@")
# Bytes below 32 other than white space: many of them mark a binary file.
_CONTROL_BYTES = bytes(byte for byte in range(32) if byte not in b"\t\n\r\f\v")
_FORMULA = r"^\s*(?:=\S|@[A-Za-z_]|[+\-][^\n]*[(!|=$])"


@dataclass(frozen=True)
class ParsedFile:
    """One submitted file, read: text cells in the template layout, and what went wrong.

    ``n_rows`` counts the data rows read from the file, before any row of the dataUNODC export
    was set aside or merged; ``header_row`` is the row of the header as the user sees it.
    """

    frame: pd.DataFrame
    layout: str
    problems: pd.DataFrame
    path: Path
    file_type: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    n_rows: int = 0

    @property
    def has_errors(self) -> bool:
        return bool((self.problems["severity"] == ERROR).any())


@dataclass
class _Grid:
    """Rows of text cells with the row number each one has in the file."""

    rows: list[list[str]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    # a regular CSV file read column-wise by pyarrow: the header is ``rows[0]`` and the data
    # rows are these columns (one text array per header cell), row ``i`` being row ``i + 2``
    columns: list | None = None  # of pyarrow.ChunkedArray
    reports: list[pd.DataFrame] = field(default_factory=list)
    fatal: bool = False
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

    def fail(self, rule_id: str, message: str, **where: object) -> _Grid:
        self.reports.append(one_problem(rule_id, ERROR, message, **where))
        self.fatal = True
        return self


# --- entry point --------------------------------------------------------------------------------
def read_submission(path: Path | str, *, aliases: Mapping[str, str] | None = None) -> ParsedFile:
    """Read a CSV or XLSX submission (template or dataUNODC layout) into a ParsedFile."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    if path.suffix.lower() not in TEXT_EXTENSIONS + XLSX_EXTENSIONS:
        return read_submission_carefully(path, aliases=aliases)  # it says what is accepted
    aliases = aliases or header_aliases()
    if path.suffix.lower() in TEXT_EXTENSIONS:
        parsed = _read_plain(path, aliases)
        if parsed is not None:
            return parsed
    return read_submission_carefully(path, aliases=aliases)


def read_submission_carefully(
    path: Path | str, *, aliases: Mapping[str, str] | None = None
) -> ParsedFile:
    """``read_submission`` without the shortcut for plain CSV files: every file read with all
    the checks (what the shortcut must equal; kept public for the tests that prove it)."""
    path = Path(path)
    aliases = aliases or header_aliases()
    extension = path.suffix.lower()
    if extension in TEXT_EXTENSIONS:
        file_type, grid = "csv", _read_text(path, aliases)
    elif extension in XLSX_EXTENSIONS:
        file_type, grid = "xlsx", _read_xlsx(path, aliases)
    else:
        accepted = ", ".join(TEXT_EXTENSIONS + XLSX_EXTENSIONS)
        raise UsageError(
            f"{path.name}: unsupported file type `{extension or '(none)'}`; send one of {accepted}"
        )
    return _parse_grid(grid, path, file_type, aliases)


def _read_plain(path: Path, aliases: Mapping[str, str]) -> ParsedFile | None:
    """A plain template CSV file read in one pass (``tipstats.plain_csv``); None for any other
    file. The result equals the careful reader's: a file with a header that is not exactly
    the template's columns, or with anything to report, is left to the careful reader."""
    if path.stat().st_size > PLAIN_MAX_BYTES:
        return None  # large files: the arrow parser is faster, and one pass more is noise
    data = path.read_bytes()
    if _binary_reason(data[:HEAD_BYTES]) is not None:
        return None
    table = split_plain(data, head_bytes=HEAD_BYTES, max_cell=csv.field_size_limit())
    if table is None:
        return None
    match = match_header(table.header, aliases)
    if (
        match.layout != TEMPLATE
        or len(match.columns) != len(table.header)
        or match.missing()
        or match.unknown
        or match.duplicates
    ):
        return None
    import pyarrow as pa

    by_column = {column: position for position, column in match.columns.items()}
    n_rows = table.n_rows
    data_columns = {}
    for column in C.TEMPLATE_COLUMNS:
        position = by_column.get(column)
        cells = table.columns[position] if position is not None else [""] * n_rows
        data_columns[column] = pd.arrays.ArrowStringArray(
            pa.array(cells, type=pa.large_string()), dtype=_TEXT
        )
    data_columns[C.SOURCE_ROW] = pd.arrays.IntegerArray(
        np.arange(2, n_rows + 2, dtype=np.int64), np.zeros(n_rows, dtype=bool)
    )
    return ParsedFile(
        frame=pd.DataFrame(data_columns, copy=False),
        layout=TEMPLATE,
        problems=empty_report(),
        path=path,
        file_type="csv",
        encoding=table.encoding,
        delimiter=",",
        header_row=1,
        n_rows=n_rows,
    )


@cache
def _aliases_from(path: Path) -> dict[str, str]:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    aliases = {header_key(column): column for column in C.TEMPLATE_COLUMNS}
    for column, alias in zip(table["column"], table["alias"], strict=True):
        if column not in C.TEMPLATE_COLUMNS:
            raise ValueError(f"{path}: `{column}` is not a template column")
        aliases[header_key(alias)] = column
    return aliases


def header_aliases(directory: Path | None = None) -> dict[str, str]:
    """Accepted header spellings (``header_key`` of the alias) -> template column."""
    return _aliases_from((directory or reference_dir()) / "header_aliases.csv")


# --- text files ---------------------------------------------------------------------------------
def _read_text(path: Path, aliases: Mapping[str, str]) -> _Grid:
    grid = _Grid()
    size = path.stat().st_size
    if size == 0:
        return grid.fail("structure.empty_file", "the file is empty")
    if size > MAX_TEXT_BYTES:
        return grid.fail(
            "file.too_large",
            f"the file holds {size / 2**20:.0f} MB; the limit is {MAX_TEXT_BYTES // 2**20} MB",
        )
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    reason = _binary_reason(head)
    if reason:
        return grid.fail("file.not_text", f"this is not a text (CSV) file: it looks like {reason}")
    data = path.read_bytes()
    text = _decode(data, grid)
    if text is None:
        return grid
    if not text or text.isspace():  # not text.strip(), which copies a large file's text
        return grid.fail("structure.empty_file", "the file holds only blank lines")
    grid.delimiter, recognised = _sniff_delimiter(
        text, aliases, prefer_tab=path.suffix.lower() == ".tsv"
    )
    if not recognised:  # fail fast: a file without a header is not worth parsing to the end
        return _no_header(grid)
    if not _read_regular_csv(text, grid, aliases, data):
        _parse_csv(text, grid)
    return grid


def _binary_reason(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    for magic, what in _BINARY_MAGICS.items():
        if head.startswith(magic):
            return what
    if b"\x00" in head:
        if head[1::2].count(0) > len(head) // 3 or head[0::2].count(0) > len(head) // 3:
            return "UTF-16 text without a byte order mark: save it as CSV UTF-8"
        return "binary data (it holds NUL bytes)"
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > max(2, len(head) // 100):
        return "binary data (it holds many control characters)"
    return None


def _decode(data: bytes, grid: _Grid) -> str | None:
    """Text of the file, or None with a problem. UTF-8 first; Windows-1252 only when plausible."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                grid.fail(
                    "file.encoding",
                    f"the file starts as {encoding.upper()} but is not valid {encoding.upper()} "
                    f"(near line {_line_of(data, exc.start)}); save it as CSV UTF-8",
                    row=_line_of(data, exc.start),
                )
                return None
            grid.encoding = encoding
            if encoding == "utf-16":
                _warn_encoding(grid, "the file is encoded as UTF-16; it was read as such")
            return text
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        invalid_at = exc.start
    else:
        grid.encoding = "utf-8"
        return text
    line = _line_of(data, invalid_at)
    if _UTF8_LATIN_PAIR.search(data):
        grid.fail(
            "file.encoding",
            f"the file mixes UTF-8 with another encoding (the first byte that is not UTF-8 is "
            f"on line {line}); save it again as CSV UTF-8",
            row=line,
        )
        return None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    sample = _implausible_cp1252(text) if text is not None else "undefined bytes"
    if text is None or sample:
        grid.fail(
            "file.encoding",
            f"the file is not UTF-8 (line {line}) and its encoding cannot be told for sure "
            f"(read as Windows-1252 it holds {sample}); save it as CSV UTF-8",
            row=line,
        )
        return None
    grid.encoding = "cp1252"
    example = _first_non_ascii_word(text)
    _warn_encoding(
        grid,
        f"the file is not UTF-8; it was read as Windows-1252 (Western European), which gives "
        f"`{example}` on line {line}: check accented letters, or save the file as CSV UTF-8",
        row=line,
    )
    return text


def _warn_encoding(grid: _Grid, message: str, row: int | None = None) -> None:
    grid.reports.append(one_problem("file.encoding_not_utf8", WARNING, message, row=row))


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _implausible_cp1252(text: str) -> str | None:
    """None when the non-ASCII characters look like Western European text, else an example."""
    odd = [
        ch
        for ch in {ch for ch in text if ord(ch) > 127}
        if not unicodedata.category(ch).startswith("L") and ch not in _PLAUSIBLE_SYMBOLS
    ]
    return f"unlikely characters such as `{''.join(sorted(odd)[:5])}`" if odd else None


def _first_non_ascii_word(text: str) -> str:
    match = re.search(r"[^\s,;\t|\"]*[^\x00-\x7f][^\s,;\t|\"]*", text)
    return match.group(0) if match else ""


def _sniff_delimiter(text: str, aliases: Mapping[str, str], *, prefer_tab: bool) -> tuple[str, int]:
    """The delimiter under which a header is recognised best among the first lines, and how
    many columns that header names.

    Ties (and files with no recognisable header) go to the delimiter that splits the first
    lines into the same, largest number of fields.
    """
    lines = [line for line in text[:HEAD_BYTES].splitlines() if line.strip()]
    lines = lines[:HEADER_SEARCH_ROWS]
    best: tuple[tuple[int, int, int, int], str] | None = None
    for delimiter in DELIMITERS:
        rows = [_split_line(line, delimiter) for line in lines]
        recognised = max((match_header(row, aliases).n_recognised for row in rows), default=0)
        widths = [len(row) for row in rows]
        common = max(set(widths), key=widths.count) if widths else 1
        consistent = widths.count(common) if common > 1 else 0
        preference = int(prefer_tab and delimiter == "\t")
        score = (recognised, consistent, preference, common)
        if best is None or score > best[0]:
            best = (score, delimiter)
    return (best[1], best[0][0]) if best else (",", 0)


def _split_line(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


def _read_regular_csv(text: str, grid: _Grid, aliases: Mapping[str, str], data: bytes) -> bool:
    """Read a regular file with pyarrow's CSV parser (many times faster than ``csv``); False,
    with ``grid`` untouched, when the file is not regular and must go through ``_parse_csv``.

    Regular: the header is the first line, no cell holds a quoted line break or a stray quote,
    no NUL, every row has the header's width and no cell is longer than ``csv`` accepts. Then
    record ``i`` below the header is row ``i + 2`` and the cells are those ``csv`` would read, so
    that both paths give the same frame and the same problems; any irregular file gets the
    exact, row-by-row reading that explains what is wrong with it.
    """
    end = text.find("\n")
    first = text[: end if end >= 0 else len(text)].removesuffix("\r")
    if '"' in first or "\r" in first or "\x00" in text:
        return False
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return False  # a carriage return alone: a line break to `csv`, maybe not to pyarrow
    header = first.split(grid.delimiter)
    match = match_header(header, aliases)
    if match.layout is None or match.n_recognised < 2:
        return False
    if '"' in text and not _quotes_are_regular(text, grid.delimiter):
        return False
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    names = [f"c{i}" for i in range(len(header))]
    irregular: list[int] = []

    def on_invalid_row(_: object) -> str:
        irregular.append(1)
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.py_buffer(_body_bytes(text, end, data, grid.encoding)),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=8 * 2**20),
            parse_options=pa_csv.ParseOptions(
                delimiter=grid.delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid_row,
            ),
            convert_options=pa_csv.ConvertOptions(
                # pandas' text type: no conversion when the frame is made
                column_types=dict.fromkeys(names, pa.large_string()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    if irregular:
        return False
    limit = csv.field_size_limit()
    if any(_has_cell_longer_than(column, limit) for column in table.columns):
        return False
    grid.rows, grid.numbers = [header], [1]
    grid.columns = list(table.columns)
    return True


def _has_cell_longer_than(column, limit: int) -> bool:
    """Whether a cell of a pyarrow text column holds more than ``limit`` characters. A cell has
    no more characters than bytes: the bytes (read off the offsets) are counted first, the
    characters only when the bytes could be too many."""
    import pyarrow.compute as pc

    if not len(column) or (pc.max(pc.binary_length(column)).as_py() or 0) <= limit:
        return False
    return (pc.max(pc.utf8_length(column)).as_py() or 0) > limit


def _body_bytes(text: str, end: int, data: bytes, encoding: str | None) -> bytes | memoryview:
    """The UTF-8 bytes of the file below its header line (``end``: where the line ends in
    ``text``). A UTF-8 file gives them without a copy: encoding its text again would cost more
    than parsing it."""
    if end < 0:
        return b""
    if encoding in ("utf-8", "utf-8-sig"):
        start = len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0
        # a line break is one byte in UTF-8, never part of another character
        return memoryview(data)[data.index(b"\n", start) + 1 :]
    return text[end + 1 :].encode("utf-8")


def _quotes_are_regular(text: str, delimiter: str) -> bool:
    """Every line holds an even number of quotes (no quoted line break, none left open), and
    every quote opens or closes a cell or is doubled inside one."""
    lines_with_odd_quotes = re.search(r'^[^"\n]*(?:"[^"\n]*"[^"\n]*)*"[^"\n]*$', text, re.MULTILINE)
    if lines_with_odd_quotes:
        return False
    edge = re.escape(delimiter) + "\r\n"
    stray = re.compile(f'[^{edge}"]"[^{edge}"]')
    return stray.search(text) is None


def _parse_csv(text: str, grid: _Grid) -> None:
    """Records with their row number (a quoted line break stays in one row, as in a spreadsheet)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=grid.delimiter, strict=True)
    rows, numbers = grid.rows, grid.numbers
    number, errors = 0, 0
    while True:
        try:
            for row in reader:
                number += 1
                rows.append(row)
                numbers.append(number)
        except csv.Error as exc:
            number += 1
            errors += 1
            grid.reports.append(_csv_error(exc, number))
            if errors < MAX_PARSE_ERRORS:
                continue  # the reader goes on with the next line
            grid.reports.append(
                one_problem(
                    "structure.unreadable_rest",
                    ERROR,
                    f"{errors} rows could not be read; the file was not read past row {number}",
                    row=number,
                )
            )
        break


def _csv_error(exc: csv.Error, number: int) -> pd.DataFrame:
    reason = str(exc)
    if "field larger than field limit" in reason:
        return one_problem(
            "structure.cell_too_long",
            ERROR,
            f"row {number} holds a cell longer than {csv.field_size_limit():,} characters",
            row=number,
        )
    return one_problem(
        "structure.bad_quoting",
        ERROR,
        f"row {number} cannot be read: its quotes are unbalanced or misplaced ({reason}); "
        "a cell that holds the delimiter must be wholly in double quotes",
        row=number,
    )


# --- workbooks ----------------------------------------------------------------------------------
def _read_xlsx(path: Path, aliases: Mapping[str, str]) -> _Grid:
    grid = _Grid()
    if path.stat().st_size == 0:
        return grid.fail("structure.empty_file", "the file is empty")
    if not _zip_is_safe(path, grid):
        return grid
    from python_calamine import CalamineError, CalamineWorkbook  # only workbooks need it

    try:
        with CalamineWorkbook.from_path(str(path)) as workbook:
            grid.sheet, values = _choose_sheet(workbook, aliases)
    except (CalamineError, OSError, ValueError) as exc:
        return grid.fail("file.not_xlsx", f"the workbook cannot be read: {exc}")
    except BaseException as exc:  # pyo3 reports a Rust panic on a corrupt file as BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError):
            raise
        return grid.fail("file.not_xlsx", f"the workbook is corrupt: {type(exc).__name__}")
    grid.rows = _rows_as_text(values)
    grid.numbers = list(range(1, len(grid.rows) + 1))
    return grid


def _zip_is_safe(path: Path, grid: _Grid) -> bool:
    """An .xlsx is a zip: refuse what is not one, and what would expand beyond the limits.

    Declared sizes are checked first (cheap), then every member is decompressed as a stream and
    counted, since a hostile zip may declare less than it holds.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        with path.open("rb") as handle:
            reason = _binary_reason(handle.read(HEAD_BYTES))
        if reason is None:
            hint = " (it looks like text: if it is a CSV file, name it .csv)"
        elif reason.startswith("an old Excel"):
            hint = f": it looks like {reason}"
        else:
            hint = ""
        grid.fail("file.not_xlsx", f"this is not an Excel workbook (.xlsx){hint}")
        return False
    with archive:
        members = archive.infolist()
        if "xl/workbook.xml" not in {member.filename for member in members}:
            grid.fail("file.not_xlsx", "this is a zip archive but not an Excel workbook (.xlsx)")
            return False
        declared = sum(member.file_size for member in members)
        ratios = [m.file_size / max(m.compress_size, 1) for m in members if m.file_size > 2**20]
        if (
            len(members) > MAX_XLSX_MEMBERS
            or declared > MAX_XLSX_UNCOMPRESSED
            or any(r > MAX_XLSX_RATIO for r in ratios)
        ):
            grid.fail("file.zip_bomb", _bomb_message(declared))
            return False
        expanded = 0
        try:
            for member in members:
                with archive.open(member) as stream:
                    while chunk := stream.read(2**20):
                        expanded += len(chunk)
                        if expanded > MAX_XLSX_UNCOMPRESSED:
                            grid.fail("file.zip_bomb", _bomb_message(expanded))
                            return False
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            grid.fail("file.not_xlsx", f"the workbook is damaged ({exc})")
            return False
        except (NotImplementedError, RuntimeError) as exc:
            grid.fail("file.not_xlsx", f"the workbook cannot be opened ({exc})")
            return False
    return True


def _bomb_message(size: int) -> str:
    return (
        f"the workbook expands to more than {size / 2**20:,.0f} MB (limit "
        f"{MAX_XLSX_UNCOMPRESSED // 2**20} MB, or a compression ratio above {MAX_XLSX_RATIO}); "
        "it was not opened"
    )


def _choose_sheet(workbook, aliases: Mapping[str, str]) -> tuple[str, list[list[object]]]:
    """A sheet named `data`, else the first sheet with a recognisable header, else the first.

    Returns the sheet's name and its cells from A1 on (so that list positions are row numbers).
    """
    names = workbook.sheet_names
    if not names:
        return "", []
    for name in names:
        if name.strip().casefold() == "data":
            return name, workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
    first: list[list[object]] | None = None
    for name in names:
        values = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        first = values if first is None else first
        head = _rows_as_text(values[: HEADER_SEARCH_ROWS * 2])
        if any(match_header(row, aliases).layout for row in head):
            return name, values
    return names[0], first or []


def _rows_as_text(values: list[list[object]]) -> list[list[str]]:
    """Cells as text, converted column by column (most columns of a sheet are text already)."""
    if not values:
        return []
    width = max(len(row) for row in values)
    if any(len(row) != width for row in values):
        values = [list(row) + [""] * (width - len(row)) for row in values]
    columns = []
    for column in zip(*values, strict=True):
        types = set(map(type, column))
        if types == {str}:
            columns.append(column)
        elif types <= {str, float, int} and float in types:
            columns.append(_numbers_as_text(column))
        else:
            columns.append(tuple(map(_cell_text, column)))
    return [list(row) for row in zip(*columns, strict=True)]


def _numbers_as_text(column: tuple[object, ...]) -> tuple[str, ...]:
    """A column of numbers (and maybe text): whole floats written as integers, in bulk."""
    numbers = np.array([cell if type(cell) is not str else np.nan for cell in column], dtype=float)
    whole = np.isfinite(numbers) & (numbers == np.round(numbers)) & (np.abs(numbers) < 2**53)
    as_int = np.where(whole, numbers, 0).astype(np.int64).astype(str)
    return tuple(
        text if is_whole else _cell_text(cell)
        for cell, text, is_whole in zip(column, as_int.tolist(), whole.tolist(), strict=True)
    )


def _cell_text(cell: object) -> str:
    """A cell as the user sees it: whole numbers without `.0`, dates in ISO form."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        if cell.is_integer():
            return str(int(cell))
        return f"{cell:.15g}"
    if isinstance(cell, dt.datetime | dt.date | dt.time):
        return cell.isoformat()
    return str(cell)


# --- rows -> frame ------------------------------------------------------------------------------
def _parse_grid(grid: _Grid, path: Path, file_type: str, aliases: Mapping[str, str]) -> ParsedFile:
    def result(frame: pd.DataFrame, layout: str, **extra: object) -> ParsedFile:
        return ParsedFile(
            frame=frame,
            layout=layout,
            problems=concat_reports(grid.reports),
            path=path,
            file_type=file_type,
            encoding=grid.encoding,
            delimiter=grid.delimiter,
            sheet=grid.sheet,
            **extra,
        )

    if grid.fatal:
        return result(_empty_template(), TEMPLATE)
    found = _find_header(grid, aliases)
    if found is None:
        if all(_is_blank(row) for row in grid.rows):
            grid.fail("structure.empty_file", "the file holds no rows")
        else:
            _no_header(grid)
        return result(_empty_template(), TEMPLATE)
    position, match = found
    header_row = grid.numbers[position]
    header = grid.rows[position]
    reports = grid.reports
    reports.append(_header_problems(match, header, header_row))
    if grid.columns is not None:
        columns, numbers = _data_columns(grid.columns)
        reports.append(_unnamed_columns_of(match, header, columns, numbers))
        n_data = len(numbers)

        def data_frame() -> pd.DataFrame:
            return _frame_of_columns(columns, numbers, match)
    else:
        data, numbers = _data_rows(grid, position + 1, len(header))
        reports.append(_unnamed_columns(match, header, data, numbers))
        n_data = len(data)

        def data_frame() -> pd.DataFrame:
            return _frame(data, numbers, match)

    missing = match.missing()
    if not n_data:
        reports.append(
            one_problem(
                "structure.no_data_rows",
                ERROR,
                "the file has a header but no data rows below it",
                row=header_row,
            )
        )
    if match.layout == DATAUNODC:
        if missing:
            return result(_empty_template(), DATAUNODC, header_row=header_row, n_rows=n_data)
        frame, converted = dataunodc_to_template(data_frame())
        reports.append(converted)
    else:
        frame = _template_frame(data_frame(), missing)
    reports.append(_formula_cells(frame))
    return result(frame, match.layout, header_row=header_row, n_rows=n_data)


def _no_header(grid: _Grid) -> _Grid:
    expected = ", ".join(C.TEMPLATE_REQUIRED)
    return grid.fail(
        "structure.no_header",
        f"no header row found in the first rows: the header must name the columns ({expected})",
    )


def _find_header(grid: _Grid, aliases: Mapping[str, str]) -> tuple[int, HeaderMatch] | None:
    """The first of the first non-blank rows that names two columns (one will do if it is all)."""
    candidates: list[tuple[int, HeaderMatch]] = []
    for position, row in enumerate(grid.rows):
        if _is_blank(row):
            continue
        match = match_header(row, aliases)
        if match.layout is not None:
            if match.n_recognised >= 2:
                return position, match
            candidates.append((position, match))
        if position >= HEADER_SEARCH_ROWS * 2 or len(candidates) >= HEADER_SEARCH_ROWS:
            break
    return candidates[0] if candidates else None


def _is_blank(row: Iterable[str]) -> bool:
    return not "".join(row).strip()


def _data_rows(grid: _Grid, start: int, width: int) -> tuple[list[list[str]], list[int]]:
    """Non-blank rows below the header, each exactly ``width`` cells; ragged rows reported.

    A row with more cells than the header is reported and left out (which cells are shifted
    cannot be told) unless the extra cells are blank; a shorter row is padded with blanks and
    reported.
    """
    rows, numbers, ragged = [], [], []
    for row, number in zip(grid.rows[start:], grid.numbers[start:], strict=True):
        length = len(row)
        if length == width and row[0].strip():  # the common case: a full row
            rows.append(row)
            numbers.append(number)
            continue
        if length != width:
            if _is_blank(row):
                continue
            if length > width:
                if _is_blank(row[width:]):
                    row = row[:width]
                else:
                    ragged.append((number, length))
                    continue
            else:
                ragged.append((number, length))
                row = row + [""] * (width - length)
        elif _is_blank(row):
            continue
        rows.append(row)
        numbers.append(number)
    if ragged:
        grid.reports.append(
            problems(
                "structure.ragged_row",
                ERROR,
                [number for number, _ in ragged],
                None,
                [str(length) for _, length in ragged],
                [
                    f"row {number} has {length} cells but the header has {width}"
                    + ("; the row was not read" if length > width else "")
                    for number, length in ragged
                ],
            )
        )
    return rows, numbers


def _data_columns(columns: list) -> tuple[list, np.ndarray]:
    """``_data_rows`` for a file read column-wise: every row has the header's width already;
    rows whose cells are all blank are left out."""
    n = len(columns[0]) if columns else 0
    numbers = np.arange(2, n + 2)
    blank = _blank_cells(columns[0]) if n else np.zeros(0, dtype=bool)
    for column in columns[1:]:
        if not blank.any():
            break
        blank &= _blank_cells(column)
    if blank.any():
        keep = np.flatnonzero(~blank)
        columns = [column.take(keep) for column in columns]
        numbers = numbers[keep]
    return columns, numbers


def _blank_cells(column) -> np.ndarray:
    """Which cells of a pyarrow text column are blank (``str.strip`` judged once per text)."""
    encoded = column.combine_chunks().dictionary_encode()
    texts = encoded.dictionary.to_pylist()
    blank = np.array([text.strip() == "" for text in texts], dtype=bool)
    return blank[encoded.indices.to_numpy(zero_copy_only=False)]


def _unnamed_columns_of(
    match: HeaderMatch, header: list[str], columns: list, numbers: np.ndarray
) -> pd.DataFrame:
    """``_unnamed_columns`` for a file read column-wise."""
    named = set(match.columns) | set(match.unknown) | set(match.duplicates)
    reports = []
    for position in range(len(header)):
        if position in named or not len(numbers):
            continue
        filled = numbers[~_blank_cells(columns[position])].tolist()
        if filled:
            reports.append(_unnamed_problem(position, filled))
    return concat_reports(reports)


def _frame_of_columns(columns: list, numbers: np.ndarray, match: HeaderMatch) -> pd.DataFrame:
    """``_frame`` for a file read column-wise (the text stays in arrow memory)."""
    data = {match.columns[p]: columns[p].to_pandas() for p in sorted(match.columns)}
    frame = pd.DataFrame(data).reset_index(drop=True)
    frame[C.SOURCE_ROW] = pd.array(numbers, dtype="Int64")
    return frame


def _header_problems(match: HeaderMatch, header: list[str], header_row: int) -> pd.DataFrame:
    reports = [
        one_problem(
            "structure.missing_column",
            ERROR,
            f"the required column `{column}` is missing",
            column=column,
        )
        for column in match.missing()
    ]
    known = ", ".join(DATAUNODC_COLUMNS if match.layout == DATAUNODC else C.TEMPLATE_COLUMNS)
    for name in match.unknown.values():
        reports.append(
            one_problem(
                "structure.unknown_column",
                WARNING,
                f"column `{name}` is not part of the layout ({known}); it is ignored",
                row=header_row,
                column=name,
                value=name,
            )
        )
    for position, (column, first) in match.duplicates.items():
        reports.append(
            one_problem(
                "structure.duplicate_column",
                ERROR,
                f"column {position + 1} (`{header[position].strip()}`) names `{column}` again "
                f"(already column {first + 1}); keep one",
                row=header_row,
                column=column,
                value=header[position].strip(),
            )
        )
    return concat_reports(reports)


def _unnamed_columns(
    match: HeaderMatch, header: list[str], rows: list[list[str]], numbers: list[int]
) -> pd.DataFrame:
    """Values under a header cell left blank are ignored, but never silently."""
    named = set(match.columns) | set(match.unknown) | set(match.duplicates)
    reports = []
    for position in range(len(header)):
        if position in named:
            continue
        pairs = zip(rows, numbers, strict=True)
        filled = [number for row, number in pairs if row[position].strip()]
        if filled:
            reports.append(_unnamed_problem(position, filled))
    return concat_reports(reports)


def _unnamed_problem(position: int, filled: list[int]) -> pd.DataFrame:
    shown = ", ".join(str(n) for n in filled[:5]) + (", ..." if len(filled) > 5 else "")
    return one_problem(
        "structure.unnamed_column",
        WARNING,
        f"column {position + 1} has no name in the header but holds values (rows "
        f"{shown}); they are ignored",
        row=filled[0],
        column=f"column {position + 1}",
    )


def _frame(rows: list[list[str]], numbers: list[int], match: HeaderMatch) -> pd.DataFrame:
    """The recognised columns of the data rows, as text, plus ``source_row``."""
    positions = sorted(match.columns)
    if rows:
        # rows all have the header's width here: one 2-D array, sliced by column, is fastest
        cells = np.empty((len(rows), len(rows[0])), dtype=object)
        cells[:] = rows
        data = {match.columns[p]: pd.Series(cells[:, p], dtype="str") for p in positions}
    else:
        data = {match.columns[p]: pd.Series([], dtype="str") for p in positions}
    frame = pd.DataFrame(data)
    frame[C.SOURCE_ROW] = pd.array(numbers, dtype="Int64")
    return frame


def _template_frame(frame: pd.DataFrame, missing: list[str]) -> pd.DataFrame:
    """Template columns in order; absent optional columns blank, absent required ones left out
    (reported as missing) so that later stages do not read blanks as data."""
    ordered = []
    for column in C.TEMPLATE_COLUMNS:
        if column in missing:
            continue
        if column not in frame.columns:
            frame[column] = pd.array([""] * len(frame), dtype="str")
        ordered.append(column)
    return frame[[*ordered, C.SOURCE_ROW]]


def _empty_template() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.array([], dtype="str") for column in C.TEMPLATE_COLUMNS})
    frame[C.SOURCE_ROW] = pd.array([], dtype="Int64")
    return frame


def _formula_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells a spreadsheet would execute (CSV injection) are errors, whatever the column."""
    reports = []
    for column in frame.columns:
        if column == C.SOURCE_ROW or not len(frame):
            continue
        if not _may_hold_formulas(frame[column]):
            continue
        cells = frame[column].astype("str")
        # each distinct text judged once: a cheap test on its first character, then the
        # regular expression on the few suspects
        positions, texts = pd.factorize(cells, use_na_sentinel=False)
        suspect = [str(t).lstrip()[:1] in _FORMULA_CHARS for t in texts]
        if not any(suspect):
            continue
        formula_texts = pd.Series(np.asarray(texts, dtype=object)[suspect], dtype="str")
        is_formula = formula_texts.str.contains(_FORMULA, regex=True, na=False)
        if not is_formula.any():
            continue
        flagged = np.zeros(len(texts), dtype=bool)
        flagged[np.flatnonzero(suspect)[is_formula.to_numpy(dtype=bool)]] = True
        formulas = cells[flagged[positions]]
        reports.append(
            problems(
                "value.formula_like",
                ERROR,
                frame.loc[formulas.index, C.SOURCE_ROW],
                column,
                formulas,
                f"this {column} cell looks like a spreadsheet formula, which could run when the "
                "file is opened; formulas are not accepted: write the value itself",
            )
        )
    return concat_reports(reports)


def _may_hold_formulas(cells: pd.Series) -> bool:
    """False when no distinct text of the column starts, after spaces, as a formula can; the
    distinct texts of a column in arrow memory are found there (pandas' factorize costs several
    times more on a million cells)."""
    if not (isinstance(cells.dtype, pd.StringDtype) and cells.dtype.storage == "pyarrow"):
        return True  # judged by the exact test
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pa.array(cells.array)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if not any(_may_hold_formula_bytes(chunk) for chunk in chunks):
        return False  # the usual column: none of its bytes could start a formula
    texts = pc.unique(column).to_pylist()
    return any(text is None or text.lstrip()[:1] in _FORMULA_CHARS for text in texts)


_FORMULA_BYTES = tuple(char.encode() for char in _FORMULA_CHARS)


def _may_hold_formula_bytes(chunk) -> bool:
    """False when no byte of a chunk's texts is a character a formula starts with (a search of
    its memory, cheaper than finding its distinct texts); True when one is, or a cell is null."""
    if chunk.null_count:
        return True
    data = chunk.buffers()[2]  # validity, offsets, the texts' bytes (maybe more than the slice's)
    if data is None:
        return False
    raw = data.to_pybytes()
    return any(char in raw for char in _FORMULA_BYTES)
