"""CSV text of a frame, column by column (pure): the bytes ``DataFrame.to_csv`` writes, faster.

``frame.to_csv(index=False, lineterminator="\\n")`` hands every cell to the ``csv`` module as a
Python object: ~1 s of CPU for the world's 230,000-row country table. Here each column is
turned into its cells' text at once (the formatting pandas applies, then the quoting of the
``csv`` module's ``QUOTE_MINIMAL``) and the rows are joined with pyarrow compute.

Only the column types the Global Report tables use are written here (numpy integers, floats
and booleans, nullable ``Int*`` / ``Float*``, ``str`` / ``string``, and object columns); for
anything else, a frame of fewer than two columns (where the ``csv`` module writes an empty
single field as ``""``) or with several header rows, the frame goes to pandas, so nothing is
ever written differently.
"""

from __future__ import annotations

import csv
import functools
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SEPARATOR = ","
QUOTE = '"'
LINE_END = "\n"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame.to_csv(index=False, lineterminator="\\n")`` encoded as UTF-8."""
    if frame.shape[1] < 2 or isinstance(frame.columns, pd.MultiIndex):
        return frame.to_csv(index=False, lineterminator=LINE_END).encode("utf-8")
    columns = [_cells(frame.iloc[:, i]) for i in range(frame.shape[1])]
    if any(c is None for c in columns):
        return frame.to_csv(index=False, lineterminator=LINE_END).encode("utf-8")
    header = SEPARATOR.join(_quoted_text(str(c)) for c in frame.columns) + LINE_END
    if not len(frame):
        return header.encode("utf-8")
    wide = pa.large_string()  # one type for all: the join needs it, and no 2 GB limit
    rows = pc.binary_join_element_wise(
        *(pc.cast(c, wide) for c in columns), pa.scalar(SEPARATOR, wide)
    )
    body = pc.binary_join_element_wise(rows, pa.scalar(LINE_END, wide), pa.scalar("", wide))
    return header.encode("utf-8") + _utf8_of(body)


# ---------------------------------------------------------------------- cells of a column


def _cells(column: pd.Series) -> pa.Array | None:
    """The column's fields as the ``csv`` module writes them; None: a type left to pandas."""
    dtype = column.dtype
    missing = column.isna().to_numpy(dtype=bool)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        if isinstance(dtype, (pd.Int64Dtype, pd.Int32Dtype, pd.Int16Dtype, pd.Int8Dtype)):
            # pandas writes str() of each value: the digits arrow writes.
            text = pc.cast(pa.array(column.to_numpy(dtype="int64", na_value=0)), pa.string())
        elif isinstance(dtype, pd.Float64Dtype):
            values = column.to_numpy(dtype="float64", na_value=np.nan)
            return _float_fields(values, missing)
        elif isinstance(dtype, pd.StringDtype):
            return _text_fields(pa.array(column, from_pandas=True, type=pa.large_string()))
        else:
            return None
        return _with_missing(text, missing)
    kind = dtype.kind
    values = column.to_numpy()
    if kind in "iu":
        return pc.cast(pa.array(values), pa.string())
    if kind == "b":
        return pc.if_else(pa.array(values), "True", "False")
    if kind == "f" and dtype.itemsize == 8:
        return _float_fields(values, missing)
    if kind == "O":
        # pandas passes the objects through; the csv module writes str() (repr() of a float,
        # the same text in Python 3).
        texts = ["" if gone else str(v) for v, gone in zip(values, missing, strict=True)]
        return _text_fields(pa.array(texts, type=pa.large_string()))
    return None


def _float_fields(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    """What pandas writes for float64: ``astype(str)`` (numpy's shortest repr, the text of a
    Python float), "" where missing; only the present values are formatted (the country
    table's counts are mostly hidden)."""
    if not missing.any():
        return pa.array(values.astype(str))
    present = pa.array(values[~missing].astype(str))
    text = pc.replace_with_mask(pa.nulls(len(values), pa.string()), pa.array(~missing), present)
    return pc.fill_null(text, "")


def _with_missing(text: pa.Array, missing: np.ndarray) -> pa.Array:
    if missing.any():
        return pc.if_else(pa.array(missing), "", text)
    return text


def _text_fields(texts: pa.Array) -> pa.Array:
    """Texts quoted where the ``csv`` module quotes them (a missing value: empty field)."""
    wide = pa.large_string()
    texts = pc.fill_null(pc.cast(texts, wide), "")
    special = _special_characters()
    pattern = "[" + "".join("\\" + c if c in "\\]^-[" else c for c in special) + "]"
    needs = pc.match_substring_regex(texts, pattern)
    if not pc.any(needs).as_py():
        return texts
    quote = pa.scalar(QUOTE, wide)
    doubled = pc.replace_substring(texts, QUOTE, QUOTE + QUOTE)
    quoted = pc.binary_join_element_wise(quote, doubled, quote, pa.scalar("", wide))
    return pc.if_else(needs, quoted, texts)


def _quoted_text(text: str) -> str:
    if any(c in text for c in _special_characters()):
        return QUOTE + text.replace(QUOTE, QUOTE + QUOTE) + QUOTE
    return text


@functools.cache
def _special_characters() -> str:
    """The characters that make the ``csv`` module quote a field, asked of the module itself.

    It quotes the separator, the quote and the line terminator; whether a bare ``\\r`` is
    quoted too changed between Python versions.
    """
    quoted = ""
    for c in (SEPARATOR, QUOTE, "\n", "\r"):
        out = io.StringIO()
        csv.writer(out, lineterminator=LINE_END).writerow([f"a{c}b", "z"])
        if out.getvalue().startswith(QUOTE):
            quoted += c
    return quoted


def _utf8_of(texts: pa.Array) -> bytes:
    """The texts of a string array one after the other, as UTF-8 bytes."""
    wide = pa.types.is_large_string(texts.type)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64 if wide else np.int32)
    begin, end = int(offsets[texts.offset]), int(offsets[texts.offset + len(texts)])
    data = texts.buffers()[2]
    return bytes(memoryview(data)[begin:end]) if data is not None else b""
