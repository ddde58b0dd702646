"""The report workbook (``global_report_tables.xlsx``) as bytes, built column by column.

At world size the country table alone is ~230,000 rows: writing it cell by cell through
openpyxl (or any library's per-cell API) costs tens of seconds of CPU. Here each column is
turned into its cells' XML with pyarrow compute, a block of rows at a time that goes straight
into the archive (the country table's sheet is ~100 MB of XML: never held whole), and the few
package parts around the sheets (styles, workbook, relationships) are fixed text. The content
is the one ``exports._xlsx_bytes`` writes with openpyxl: the same sheets in the same order;
title, units and notes rows; a bold header row frozen under them; the same column widths,
fonts, number formats, neutralised formula-looking texts, and values of the same types as
openpyxl reads them back (numbers as ``%.16g``, as openpyxl writes them). Unlike openpyxl's,
the file carries no time stamp, so an unchanged set of tables gives the same bytes.

A column of a type this writer does not know (dates, categoricals, mixed objects) sends the
whole workbook back to the openpyxl writer, so nothing is ever written differently.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from tipstats.disclosure import DisclosureConfig
    from tipstats.report_tables import PublishedTable

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Style ids in styles.xml: 0 plain, 1 bold (header), 2 bold 13 pt (title), then number formats.
_PLAIN, _BOLD, _TITLE, _FIRST_FORMAT = 0, 1, 2, 3
_FIRST_CUSTOM_FORMAT_ID = 164  # ids below are Excel's built-in formats
# Characters XML 1.0 cannot hold; OOXML spells them _xHHHH_ (openpyxl refuses them outright).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# |n| below this prints the same with str() and with "%.16g" (what openpyxl writes).
_EXACT_INT_LIMIT = 10**15
# Deflate level 1: a third of the CPU of the default 6, the file about as big as openpyxl's.
_COMPRESS_LEVEL = 1


# Rows of a sheet turned into XML at a time: a few MB of cells, and few enough calls.
ROWS_PER_BLOCK = 20_000


class _Unsupported(Exception):
    """A column this writer cannot render exactly as openpyxl would: use openpyxl."""


def report_workbook_bytes(tables: list[PublishedTable], config: DisclosureConfig) -> bytes:
    """The report workbook; a hidden count reads ``<5`` or ``x`` as the Report prints it.

    Takes what ``exports._xlsx_bytes`` takes and writes the same workbook, several times faster.
    """
    from tipstats.exports import _xlsx_bytes

    try:
        return _WorkbookWriter(config).write(tables)
    except _Unsupported:
        return _xlsx_bytes(tables, config)


class _WorkbookWriter:
    def __init__(self, config: DisclosureConfig, rows_per_block: int = ROWS_PER_BLOCK) -> None:
        from tipstats.disclosure import SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY

        self.symbols = {
            SUPPRESSED_PRIMARY: config.primary_symbol,
            SUPPRESSED_SECONDARY: config.secondary_symbol,
        }
        self.strings: dict[str, int] = {}  # the shared strings, in order of first use
        self.formats: dict[str, int] = {}  # number format -> style id
        self.rows_per_block = rows_per_block

    # ------------------------------------------------------------------ package

    def write(self, tables: Sequence[PublishedTable]) -> bytes:
        from tipstats.exports import _number_format

        # styles.xml comes before the sheets in the package, but the sheets are what meet the
        # number formats: number them first, in the order the sheets meet them.
        for table in tables:
            if len(table.frame):
                for column in table.frame.columns:
                    self._style_of(_number_format(str(column)))
        names = [table.name[:31] for table in tables]
        n = len(tables)
        buffer = BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in (
                ("[Content_Types].xml", _content_types(n)),
                ("_rels/.rels", _ROOT_RELS),
                ("docProps/app.xml", _APP),
                ("docProps/core.xml", _CORE),
                ("xl/workbook.xml", _workbook(names)),
                ("xl/_rels/workbook.xml.rels", _workbook_rels(n)),
                ("xl/styles.xml", self._styles()),
            ):
                archive.writestr(_entry(name), text.encode())
            for i, table in enumerate(tables, start=1):
                # A sheet goes into the archive a block of rows at a time: the country table's
                # XML is ~100 MB, and holding it whole (as cells, rows, text and bytes) made the
                # workbook the export's peak of memory. Deflate gives the same bytes either way.
                with archive.open(_entry(f"xl/worksheets/sheet{i}.xml"), "w") as part:
                    for piece in self._sheet_pieces(table):
                        part.write(piece)
            archive.writestr(_entry("xl/sharedStrings.xml"), self._shared_strings().encode())
        return buffer.getvalue()

    def _string_id(self, text: str) -> int:
        return self.strings.setdefault(text, len(self.strings))

    def _style_of(self, number_format: str | None) -> int:
        if number_format is None:
            return _PLAIN
        return self.formats.setdefault(number_format, _FIRST_FORMAT + len(self.formats))

    def _shared_strings(self) -> str:
        items = "".join(
            f'<si><t xml:space="preserve">{_xml_text(s)}</t></si>' for s in self.strings
        )
        n = len(self.strings)
        return f'{_XML_DECL}<sst xmlns="{_MAIN_NS}" count="{n}" uniqueCount="{n}">{items}</sst>'

    def _styles(self) -> str:
        from openpyxl.styles.numbers import BUILTIN_FORMATS_REVERSE

        format_ids: list[int] = []
        custom: list[str] = []
        for code in self.formats:
            if code in BUILTIN_FORMATS_REVERSE:
                format_ids.append(BUILTIN_FORMATS_REVERSE[code])
            else:
                format_ids.append(_FIRST_CUSTOM_FORMAT_ID + len(custom))
                custom.append(f'<numFmt numFmtId="{format_ids[-1]}" formatCode={quoteattr(code)}/>')
        num_fmts = f'<numFmts count="{len(custom)}">{"".join(custom)}</numFmts>' if custom else ""
        xfs = [
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>',
            '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>',
            *(
                f'<xf numFmtId="{i}" fontId="0" fillId="0" borderId="0" xfId="0"'
                ' applyNumberFormat="1"/>'
                for i in format_ids
            ),
        ]
        return (
            f'{_XML_DECL}<styleSheet xmlns="{_MAIN_NS}">{num_fmts}'
            # openpyxl's Font(bold=True) names no face or size: the reader gets exactly that.
            '<fonts count="3"><font><sz val="11"/><color theme="1"/><name val="Calibri"/>'
            '<family val="2"/><scheme val="minor"/></font><font><b val="1"/></font>'
            '<font><b val="1"/><sz val="13"/></font></fonts>'
            '<fills count="2"><fill><patternFill/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            "</borders>"
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            f'</cellStyleXfs><cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        )

    # ------------------------------------------------------------------ sheets

    def _sheet_pieces(self, table: PublishedTable) -> Iterator[bytes | memoryview]:
        """The sheet's XML (UTF-8) in pieces: head, blocks of ``rows_per_block`` rows, tail."""
        from tipstats.exports import _FLAG_OF, HEADER_ROW, _number_format, neutralise

        frame = table.frame
        columns = [str(c) for c in frame.columns]
        n_rows, n_cols = len(frame), max(len(columns), 1)
        first = HEADER_ROW + 1
        letters = [_column_letter(j) for j in range(1, len(columns) + 1)]

        def text_cell(ref: str, text: str, style: int = _PLAIN) -> str:
            s = f' s="{style}"' if style != _PLAIN else ""
            if text == "":  # openpyxl writes an empty text as a cell without value
                return f'<c r="{ref}"{s}/>' if s else ""
            return f'<c r="{ref}"{s} t="s"><v>{self._string_id(text)}</v></c>'

        head = [
            f'<row r="1">{text_cell("A1", neutralise(table.title), _TITLE)}</row>',
            f'<row r="2">{text_cell("A2", neutralise(f"Units: {table.units}"))}</row>',
            f'<row r="3">{text_cell("A3", neutralise(f"Notes: {table.notes}"))}</row>',
            '<row r="4"/>',
            f'<row r="{HEADER_ROW}">'
            + "".join(
                text_cell(f"{letter}{HEADER_ROW}", neutralise(c), _BOLD)
                for letter, c in zip(letters, columns, strict=True)
            )
            + "</row>",
        ]
        last_row = HEADER_ROW + n_rows
        widths = "".join(
            f'<col min="{j}" max="{j}" width="{max(10, len(c) + 2)}" customWidth="1"/>'
            for j, c in enumerate(columns, start=1)
        )
        yield (
            f'{_XML_DECL}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
            f'<dimension ref="A1:{_column_letter(n_cols)}{last_row}"/>'
            '<sheetViews><sheetView workbookViewId="0">'
            f'<pane ySplit="{HEADER_ROW}" topLeftCell="A{first}" activePane="bottomLeft"'
            ' state="frozen"/>'
            f'<selection pane="bottomLeft" activeCell="A{first}" sqref="A{first}"/>'
            "</sheetView></sheetViews>"
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{widths}</cols>" if widths else "")
            + f"<sheetData>{''.join(head)}"
        ).encode("utf-8")
        if n_rows:
            # Every column is looked at whole first (shared strings are numbered in the order of
            # the columns, as a reader meets them); only the cell XML is built block by block.
            arrays = {c: _arrow_column(frame, i) for i, c in enumerate(columns)}
            plans = []
            for letter, column in zip(letters, columns, strict=True):
                style = self._style_of(_number_format(column))
                plan = self._column_plan(arrays[column], letter, style, neutralise)
                flag = _FLAG_OF.get(column)
                if flag in arrays:
                    plan.hidden = self._symbol_ids(arrays[column], arrays[flag])
                plans.append(plan)
            del arrays
            for start in range(0, n_rows, self.rows_per_block):
                stop = min(start + self.rows_per_block, n_rows)
                row_numbers = pc.cast(
                    pa.array(range(first + start, first + stop), pa.int64()), pa.string()
                )
                cells = [plan.cells(start, stop - start, row_numbers) for plan in plans]
                rows = pc.binary_join_element_wise(
                    '<row r="', row_numbers, '">', *cells, "</row>", ""
                )
                del cells
                yield _utf8_of(rows)
        yield b"</sheetData></worksheet>"

    def _column_plan(self, values: pa.Array, letter: str, style: int, neutralise) -> _ColumnPlan:
        """What each row's cell of one column holds."""
        kind = values.type
        if pa.types.is_null(kind):
            return _ColumnPlan(letter, None, "", None)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return _ColumnPlan(letter, self._text_ids(values, neutralise), '" t="s"><v>', None)
        s = f' s="{style}"' if style != _PLAIN else ""
        if pa.types.is_boolean(kind):
            return _ColumnPlan(letter, pc.if_else(values, "1", "0"), f'"{s} t="b"><v>', None)
        if pa.types.is_integer(kind):
            bounds = pc.min_max(values).as_py()
            if bounds["min"] is not None and max(-bounds["min"], bounds["max"]) >= _EXACT_INT_LIMIT:
                raise _Unsupported(f"integers beyond {_EXACT_INT_LIMIT}")
            shown = pc.cast(values, pa.string())
        elif pa.types.is_floating(kind):
            shown = _openpyxl_numbers(values)
        else:
            raise _Unsupported(f"column type {kind}")
        # openpyxl writes an infinite number as a cell without value (shown == "").
        return _ColumnPlan(letter, shown, f'"{s} t="n"><v>', f'"{s} t="n"/>')

    def _text_ids(self, values: pa.Array, neutralise) -> pa.Array:
        """Each row's shared-string id; null where the text is empty (no cell)."""
        # Few distinct texts per column: neutralise and number each one once, then take.
        encoded = pc.dictionary_encode(values)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        ids = [
            None if (text := neutralise(v)) == "" else str(self._string_id(text))
            for v in encoded.dictionary.to_pylist()
        ]
        return pc.take(pa.array(ids, pa.string()), encoded.indices)

    def _symbol_ids(self, values: pa.Array, flags: pa.Array) -> pa.Array:
        """The shared-string id of the ``<5`` / ``x`` a hidden count shows, where it is empty."""
        if not (pa.types.is_string(flags.type) or pa.types.is_large_string(flags.type)):
            flags = pc.cast(flags, pa.string()) if not pa.types.is_null(flags.type) else flags
        shown = pa.nulls(len(values), pa.string())
        for flag, symbol in self.symbols.items():
            if symbol == "":
                continue
            match = pc.fill_null(pc.equal(flags, flag), False)
            shown = pc.if_else(match, str(self._string_id(symbol)), shown)
        return pc.if_else(pc.is_null(values), shown, pa.scalar(None, pa.string()))


@dataclass
class _ColumnPlan:
    """One column's cells, ``<c r="{letter}{row}{attributes}{shown}</v></c>``, block by block."""

    letter: str
    shown: pa.Array | None  # the text inside <v>; null: no cell (None: never a cell)
    attributes: str  # from the closing quote of r="..." to <v>
    empty: str | None  # the cell's tail where ``shown`` is "" (an infinite number)
    hidden: pa.Array | None = None  # a symbol's shared-string id where the value is null

    def cells(self, start: int, length: int, row_numbers: pa.Array) -> pa.Array:
        """The cells of rows ``start`` to ``start + length``; "" where a row has none."""
        if self.shown is None:
            cell = pa.nulls(length, pa.string())
        else:
            shown = self.shown.slice(start, length)
            cell = pc.binary_join_element_wise(
                '<c r="', self.letter, row_numbers, self.attributes, shown, "</v></c>", ""
            )
            if self.empty is not None:
                empty = pc.binary_join_element_wise(
                    '<c r="', self.letter, row_numbers, self.empty, ""
                )
                cell = pc.if_else(pc.equal(shown, ""), empty, cell)
        if self.hidden is not None:
            hidden = pc.binary_join_element_wise(
                '<c r="',
                self.letter,
                row_numbers,
                '" t="s"><v>',
                self.hidden.slice(start, length),
                "</v></c>",
                "",
            )
            cell = pc.coalesce(cell, hidden)
        return pc.fill_null(cell, "")


# ---------------------------------------------------------------------- helpers


def _arrow_column(frame, position: int) -> pa.Array:
    series = frame.iloc[:, position]
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise _Unsupported(str(error)) from error
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type) or not (
        pa.types.is_string(array.type)
        or pa.types.is_large_string(array.type)
        or pa.types.is_integer(array.type)
        or pa.types.is_floating(array.type)
        or pa.types.is_boolean(array.type)
        or pa.types.is_null(array.type)
    ):
        raise _Unsupported(f"column {series.name!r} of type {array.type}")
    return array


def _utf8_of(texts: pa.Array) -> memoryview:
    """The texts of a string array one after the other, as UTF-8 bytes (no copy)."""
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    wide = pa.types.is_large_string(texts.type)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64 if wide else np.int32)
    begin, end = int(offsets[texts.offset]), int(offsets[texts.offset + len(texts)])
    data = texts.buffers()[2]
    return memoryview(data)[begin:end] if data is not None else memoryview(b"")


def _entry(name: str) -> zipfile.ZipInfo:
    # A fixed date: the same tables give the same bytes.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    # ZipFile.open(..., "w") takes the level from the entry: Python 3.13 calls the attribute
    # compress_level, earlier versions _compresslevel.
    level = "compress_level" if hasattr(info, "compress_level") else "_compresslevel"
    setattr(info, level, _COMPRESS_LEVEL)
    return info


def _openpyxl_numbers(values: pa.Array) -> pa.Array:
    """Each float as openpyxl writes it ("%.16g", "" if infinite); null where missing.

    Whole numbers below 10**15 (most of the report's floats: bounds, populations) print as
    their integer digits, so arrow writes those; only the others are formatted one by one.
    """
    numbers = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        whole = (
            valid
            & np.isfinite(numbers)
            & (numbers == np.trunc(numbers))
            & (np.abs(numbers) < _EXACT_INT_LIMIT)
            & ~((numbers == 0) & np.signbit(numbers))  # -0.0 prints as "-0"
        )
    rest = valid & ~whole
    shown = pa.nulls(len(values), pa.string())
    if whole.any():
        digits = pc.cast(pa.array(numbers[whole].astype(np.int64)), pa.string())
        shown = pc.replace_with_mask(shown, pa.array(whole), digits)
    if rest.any():
        texts = pa.array([_as_openpyxl(x) for x in numbers[rest].tolist()], pa.string())
        shown = pc.replace_with_mask(shown, pa.array(rest), texts)
    return shown


def _as_openpyxl(x: float) -> str:
    # openpyxl writes "%.16g" and nothing at all for an infinite number.
    return "" if math.isinf(x) else f"{x:.16g}"


def _xml_text(text: str) -> str:
    # A carriage return stays bare: openpyxl writes it so, and it reads back as a line feed.
    return _XML_ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", escape(text))


def _column_letter(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _content_types(n_sheets: int) -> str:
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n_sheets + 1)
    )
    return (
        f"{_XML_DECL}"
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{sheets}"
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        "</Types>"
    )


_ROOT_RELS = (
    f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{_PKG_REL_NS}/metadata/core-properties" '
    'Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL_NS}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP = (
    f"{_XML_DECL}<Properties "
    'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>tipstats</Application></Properties>"
)
_CORE = (
    f"{_XML_DECL}<cp:coreProperties "
    'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:creator>tipstats</dc:creator></cp:coreProperties>"
)


def _workbook(names: Sequence[str]) -> str:
    sheets = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(names, start=1)
    )
    return (
        f'{_XML_DECL}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>"
    )


def _workbook_rels(n_sheets: int) -> str:
    sheets = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n_sheets + 1)
    )
    n = n_sheets
    return (
        f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}">{sheets}'
        f'<Relationship Id="rId{n + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="{_REL_NS}/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>'
    )
