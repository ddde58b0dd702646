"""The common case of reading (pure): a plain UTF-8 CSV file in the template layout, split in one
pass without the careful reader's machinery.

``tipstats.readers`` reads every file with checks that cost ~10 ms whatever its size (delimiter
sniffing, header search, arrow parsing, formula scan), which is most of the time of a world of
4,000 small submissions. ``split_plain`` accepts a file only when each of those checks is known
to find nothing, and then gives the same cells:

- UTF-8 (with or without a BOM), lines ending in ``\\n`` or ``\\r\\n``, no control character, no
  quote (so no quoted delimiter or line break), no ``;``, tab or ``|`` among the first bytes (so
  the sniffer can only choose the comma: it picks the delimiter under which most header cells
  are recognised, and one that appears nowhere splits nothing);
- every line below the header has the header's number of cells and at least one that is not
  blank; at least one such line;
- no cell starts, after spaces, with a character a formula starts with (``= + - @``).

Anything else returns None, and the careful reader takes the file. Which header cell names
which column is the caller's business (``tipstats.layouts.match_header``).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# The careful reader sniffs the delimiter among the first bytes only (readers.HEAD_BYTES).
_OTHER_DELIMITERS = re.compile(r"[;\t|]")
# Control characters (the careful reader's binary test counts them), quotes, and what
# ``str.splitlines`` takes for a line break besides ``\n``.
_NOT_PLAIN = re.compile('[\x00-\x09\x0b-\x1f\x7f\x85\u2028\u2029"]')
# A cell whose text, once stripped of leading spaces, starts as a formula could: the careful
# reader judges those one by one. ``\s`` is ``str.isspace``, what ``str.lstrip`` removes.
_FORMULA_START = re.compile(r"(?:^|,)\s*[=+\-@]", re.MULTILINE)


@dataclass(frozen=True)
class PlainTable:
    """The header cells, the data cells column by column, and the encoding of the file."""

    header: list[str]
    columns: list[list[str]]
    encoding: str

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0


def split_plain(data: bytes, *, head_bytes: int, max_cell: int) -> PlainTable | None:
    """The cells of a plain comma-separated file, or None when the file is not plain."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8-sig", data[len(codecs.BOM_UTF8) :]
    else:
        encoding, body = "utf-8", data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _OTHER_DELIMITERS.search(text, 0, head_bytes):
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None  # a carriage return alone breaks a line for some parsers, not others
        text = text.replace("\r\n", "\n")
    if _NOT_PLAIN.search(text) or _FORMULA_START.search(text):
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the line break that ends the last line
    if len(lines) < 2:
        return None
    header = lines[0].split(",")
    width = len(header)
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        # a short or long row (a blank line too) is reported, and a blank row left out, by
        # the careful reader
        if len(row) != width or not "".join(row).strip():
            return None
    if len(text) > max_cell and max(map(len, lines)) > max_cell:
        return None
    columns = [list(cells) for cells in zip(*rows, strict=True)]
    return PlainTable(header=header, columns=columns, encoding=encoding)
