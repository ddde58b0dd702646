"""Harmonization (pure): a parsed frame in the template layout -> canonical observations.

Labels become codes, country names ISO3, text counts integers with a status. What cannot be
mapped is never guessed: a breakdown becomes UNKNOWN, a row that cannot be placed at all is not
loaded, and either way a warning quotes the original text so a reviewer sees it.

The parsing helpers here (``classify_counts``, ``parse_years``, ``code_frame``) are shared with
``tipstats.validation`` so that both stages read a cell the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from tipstats import columns as C
from tipstats.codelists import CodeLists
from tipstats.report_frame import WARNING, concat_reports, problems

# A column as (position of each cell's text, the texts): pandas.factorize's shape.
Factor = tuple[np.ndarray, np.ndarray]

# --- text -> integer counts ---------------------------------------------------------------------
# Kinds of value cell; only COUNT, CENSORED and MISSING are loadable.
COUNT: Final = "count"
CENSORED: Final = "censored"
MISSING: Final = "missing"
NEGATIVE: Final = "negative"
DECIMAL: Final = "decimal"
NOT_A_NUMBER: Final = "not_a_number"
THOUSANDS_AMBIGUOUS: Final = "thousands_ambiguous"
TOO_LARGE: Final = "too_large"
LOADABLE_KINDS: Final = frozenset({COUNT, CENSORED, MISSING})

# A count above this is taken to be a typing error rather than a number of persons.
MAX_COUNT: Final = 1_000_000_000
CENSORED_UPPER: Final = 4  # `<5` means the true value lies in 0..4
FIRST_YEAR: Final = 2000  # the first reference year the programme collects

_PLAIN = re.compile(r"\d+")
_EXCEL_FLOAT = re.compile(r"(\d+)\.0")  # what spreadsheets write for a whole number
_COMMA_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_SPACE_THOUSANDS = re.compile(r"\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+")
_DOT_THOUSANDS_MANY = re.compile(r"\d{1,3}(?:\.\d{3}){2,}")
_DOT_THOUSANDS_ONE = re.compile(r"\d{1,3}\.\d{3}")
_CENSORED = re.compile(r"<\s*5")
_NEGATIVE = re.compile(r"[-\u2212]\s*\d[\d.,\s]*")
_DECIMAL = re.compile(r"\d*[.,]\d+")
_YEAR = re.compile(r"(\d{4})(?:\.0)?")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _classify_one(text: str, dots_are_thousands: bool) -> tuple[str, int | None]:
    if text == "":
        return MISSING, None
    if _CENSORED.fullmatch(text):
        return CENSORED, None
    whole: str | None = None
    if _PLAIN.fullmatch(text):
        whole = text
    elif match := _EXCEL_FLOAT.fullmatch(text):
        whole = match.group(1)
    elif (
        _COMMA_THOUSANDS.fullmatch(text)
        or _SPACE_THOUSANDS.fullmatch(text)
        or _DOT_THOUSANDS_MANY.fullmatch(text)
        or (dots_are_thousands and _DOT_THOUSANDS_ONE.fullmatch(text))
    ):
        whole = _digits(text)
    elif _DOT_THOUSANDS_ONE.fullmatch(text):
        return THOUSANDS_AMBIGUOUS, None
    elif _NEGATIVE.fullmatch(text):
        return NEGATIVE, None
    elif _DECIMAL.fullmatch(text):
        return DECIMAL, None
    else:
        return NOT_A_NUMBER, None
    number = int(whole)
    if number > MAX_COUNT:
        return TOO_LARGE, None
    return COUNT, number


def map_distinct(values: pd.Series, resolve: Callable[[str], object]) -> pd.Series:
    """``resolve`` applied once per distinct value (files repeat the same few texts)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    results = np.empty(len(uniques), dtype=object)
    results[:] = [resolve(value) for value in uniques]
    return pd.Series(results[codes], index=values.index, dtype=object)


def classify_counts(text: pd.Series, *, cleaned: bool = False) -> pd.DataFrame:
    """Each value cell as (kind, value); vectorised over the distinct texts of the column.

    ``1.282`` is read as 1282 only when the same file writes other numbers with dots as
    thousands separators (``1.282.000``); alone it could be a decimal, so it is reported.
    """
    cells = text if cleaned else clean_text(text)
    return _classify_factor(pd.factorize(cells, use_na_sentinel=False), text.index)


def _classify_factor(factor: Factor, index: pd.Index) -> pd.DataFrame:
    """``classify_counts`` of the cells a factor describes (each text classified once).

    The factor's texts may hold a text twice, or one no cell uses (``clean_text_factors``):
    neither changes whether the file writes dots as thousands separators, nor any cell's kind.
    """
    codes, uniques = factor
    dots_are_thousands = any(_DOT_THOUSANDS_MANY.fullmatch(str(v)) for v in uniques)
    parsed = [_classify_one(str(value), dots_are_thousands) for value in uniques]
    numbers = pd.array([number for _, number in parsed], dtype="Int64")
    if len(codes):
        # the kinds gathered in arrow memory: the text column pandas would infer, made directly
        kinds = pd.arrays.ArrowStringArray(
            pa.array([kind for kind, _ in parsed], type=pa.large_string()).take(codes),
            dtype=pd.StringDtype("pyarrow", na_value=np.nan),
        )
    else:
        kinds = np.array([], dtype=object)
    return pd.DataFrame({"kind": kinds, "value": numbers.take(codes)}, index=index)


def parse_years(text: pd.Series, *, cleaned: bool = False) -> pd.Series:
    """The year as an integer, null when the cell is not a 4-digit year."""
    cells = text if cleaned else clean_text(text)
    return _years_of_factor(pd.factorize(cells, use_na_sentinel=False), text.index)


def _years_of_factor(factor: Factor, index: pd.Index) -> pd.Series:
    codes, uniques = factor
    years = []
    for value in uniques:
        match = _YEAR.fullmatch(str(value))
        years.append(int(match.group(1)) if match else None)
    return pd.Series(pd.array(years, dtype="Int64").take(codes), index=index)


def clean_text(text: pd.Series) -> pd.Series:
    """Cells as stripped strings, empty string for a missing cell."""
    return clean_text_factors(text)[0]


def clean_text_factors(text: pd.Series) -> tuple[pd.Series, Factor]:
    """``clean_text`` and its factor: for each cell, the position of its text in an array of
    cleaned texts (a text may appear twice there when only spaces told them apart). Later
    steps judge each text once through the factor instead of grouping a million cells again."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    stripped = [str(value).strip() for value in uniques]
    if text.dtype == "str" and not (codes < 0).any() and stripped == list(uniques):
        # already clean text (the usual column of a CSV file)
        return text, (codes, np.array(stripped, dtype=object))
    # one slot more for the missing cells, which factorize codes as -1; the texts stay in
    # arrow memory, where comparing and grouping a million cells is cheap
    positions = np.where(codes < 0, len(stripped), codes)
    values = np.array([*stripped, ""], dtype=object)
    cleaned = pd.array(values, dtype="str")
    return pd.Series(cleaned.take(positions), index=text.index), (positions, values)


# --- labels -> codes ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CodedFrame:
    """A template frame read cell by cell: the text, and what each cell means (null = unknown)."""

    text: pd.DataFrame  # the template columns, cleaned text, plus source_row
    codes: pd.DataFrame  # country (ISO3), year, coded dimensions, value, value_kind
    # per text column: each cell's position in an array of its texts (see clean_text_factors)
    factors: dict[str, Factor] = field(default_factory=dict, repr=False)


def template_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The template columns as cleaned text (absent optional columns become empty)."""
    return _template_text(frame)[0]


def _template_text(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Factor]]:
    out, factors = {}, {}
    for column in C.TEMPLATE_COLUMNS:
        if column in frame.columns:
            out[column], factors[column] = clean_text_factors(_in_one_chunk(frame[column]))
        else:
            out[column] = pd.Series("", index=frame.index, dtype=object)
            factors[column] = (np.zeros(len(frame), dtype=np.intp), np.array([""], dtype=object))
    text = pd.DataFrame(out, index=frame.index, copy=False)
    if C.SOURCE_ROW in frame.columns:
        text[C.SOURCE_ROW] = pd.to_numeric(frame[C.SOURCE_ROW], errors="coerce").astype("Int64")
    else:
        text[C.SOURCE_ROW] = pd.array(np.arange(2, len(frame) + 2), dtype="Int64")
    return text, factors


def code_frame(frame: pd.DataFrame, codelists: CodeLists) -> CodedFrame:
    """Look up every cell once per distinct text (fast on 100,000-row files)."""
    text, factors = _template_text(frame.reset_index(drop=True))
    codes = pd.DataFrame(index=text.index)
    codes[C.COUNTRY] = _lookup(text[C.COUNTRY], codelists.country_iso3, factors[C.COUNTRY])
    # the factors of the cleaned texts serve as well as factorizing the cleaned columns again
    codes[C.YEAR] = _years_of_factor(factors[C.YEAR], text.index)
    for dimension in C.CODED_DIMENSIONS:
        codes[dimension] = _lookup(
            text[dimension],
            lambda value, d=dimension: codelists.lookup(d, value),
            factors[dimension],
        )
    counts = _classify_factor(factors[C.VALUE], text.index)
    codes[C.VALUE] = counts["value"]
    codes["value_kind"] = counts["kind"]
    return CodedFrame(text=text, codes=codes, factors=factors)


def _lookup(
    text: pd.Series, resolve: Callable[[str], str | None], factor: Factor | None = None
) -> pd.Series:
    """The code of every cell, resolved once per distinct text and spread by position."""
    positions, uniques = factor if factor is not None else pd.factorize(text, use_na_sentinel=False)
    found = [resolve(value) if value != "" else None for value in uniques]
    if _in_arrow(text) and all(code == value for code, value in zip(found, uniques, strict=True)):
        # every text is its own code (a file written in codes): the column is the codes, its
        # arrow memory shared instead of gathered text by text; in few chunks, as a file read
        # by pyarrow is (grouping a column of many chunks, a frame concatenated from many, is
        # slow: such a column is made one chunk)
        cells = pa.array(text.array)
        if isinstance(cells, pa.ChunkedArray) and cells.num_chunks > _FEW_CHUNKS:
            cells = cells.combine_chunks()
        return pd.Series(pd.arrays.ArrowStringArray(cells, dtype=_CODES), index=text.index)
    return pd.Series(pd.array(found, dtype="string").take(positions), index=text.index)


_CODES = pd.StringDtype("pyarrow", na_value=pd.NA)  # the dtype of the code columns ("string")


def _in_one_chunk(column: pd.Series) -> pd.Series:
    """The column with its arrow memory in one piece when it is in many (a frame concatenated
    from many files): factorizing and grouping cost per chunk. The same texts either way."""
    if not _in_arrow(column):
        return column
    cells = pa.array(column.array)
    if not isinstance(cells, pa.ChunkedArray) or cells.num_chunks <= _FEW_CHUNKS:
        return column
    combined = pd.arrays.ArrowStringArray(cells.combine_chunks(), dtype=column.dtype)
    return pd.Series(combined, index=column.index, name=column.name)


_FEW_CHUNKS = 16  # a file read by pyarrow comes in a chunk per 8 MB


def _in_arrow(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow"


# --- the harmonized observation -----------------------------------------------------------------
def harmonize(
    frame: pd.DataFrame, layout: str, codelists: CodeLists
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical observations (``OBSERVATION_COLUMNS``) and a report of what was changed.

    Unmapped breakdowns become UNKNOWN; rows without a country, year, indicator or a usable
    count are not loaded; cells that share a key (sub-forms, or two unmapped citizenships) are
    summed. Every one of these is a warning that quotes the original text.
    """
    coded = code_frame(frame, codelists)
    return harmonize_coded(coded, layout, codelists)


def harmonize_coded(
    coded: CodedFrame, layout: str, codelists: CodeLists
) -> tuple[pd.DataFrame, pd.DataFrame]:
    text, codes = coded.text, coded.codes
    reports: list[pd.DataFrame] = []
    # columns gathered first and framed once: adding them one by one is a fixed cost per file
    columns: dict[str, pd.Series] = {
        C.COUNTRY: codes[C.COUNTRY],
        C.YEAR: codes[C.YEAR],
        C.INDICATOR: codes[C.INDICATOR],
    }
    for dimension in C.BREAKDOWN_DIMENSIONS:
        column, report = _unknown_when_unmapped(text, codes, dimension, codelists)
        columns[dimension] = column
        reports.append(report)
    columns[C.SOURCE], report = _source(text, codes)
    reports.append(report)
    columns[C.VALUE] = codes[C.VALUE]
    columns[C.STATUS] = _status(text, codes)
    columns[C.COMMENT] = text[C.COMMENT].replace("", pd.NA).astype("string")
    columns[C.SOURCE_ROW] = text[C.SOURCE_ROW]
    obs = pd.DataFrame(columns, index=text.index)

    keep, report = _loadable(text, codes)
    reports.append(report)
    if not keep.all():  # filtering by an all-true mask would copy every column
        obs = obs[keep]
    obs = _roll_up(obs, layout, codelists)
    # the factors give each row's text by position: the usual frame, indexed 0..n-1
    positional = isinstance(text.index, pd.RangeIndex) and text.index.equals(
        pd.RangeIndex(len(text))
    )
    obs, report = _merge_duplicates(obs, text, coded.factors if positional else None)
    reports.append(report)
    if not obs[C.SOURCE_ROW].is_monotonic_increasing:  # the usual file is in order already
        obs = obs.sort_values(C.SOURCE_ROW, kind="stable")
    obs = obs.reset_index(drop=True)
    return _observation_dtypes(obs), concat_reports(reports)


def _unknown_when_unmapped(
    text: pd.DataFrame, codes: pd.DataFrame, dimension: str, codelists: CodeLists
) -> tuple[pd.Series, pd.DataFrame]:
    unmapped = codes[dimension].isna()
    column = codes[dimension].fillna(C.UNKNOWN)
    if not unmapped.any():
        return column, None
    originals = text.loc[unmapped, dimension]
    messages = {}
    for original in pd.unique(originals):
        if original == "":
            messages[original] = f"{dimension} is empty; recorded as {C.UNKNOWN}"
        else:
            hint = ", ".join(codelists.closest(dimension, original))
            messages[original] = (
                f"{dimension} `{original}` is not in the code lists; recorded as {C.UNKNOWN} "
                f"(closest codes: {hint})"
            )
    report = problems(
        f"harmonize.unmapped_{dimension}",
        WARNING,
        text.loc[unmapped, C.SOURCE_ROW],
        dimension,
        originals,
        originals.map(messages),
    )
    return column, report


def _source(text: pd.DataFrame, codes: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The data source; a file that names none is recorded as OTHER (compiled sources)."""
    other = "OTHER"  # the code list's catch-all source; see codes.csv
    column = codes[C.SOURCE].fillna(other)
    bad = codes[C.SOURCE].isna() & (text[C.SOURCE] != "")
    if not bad.any():
        return column, None
    originals = text.loc[bad, C.SOURCE]
    report = problems(
        "harmonize.unmapped_source",
        WARNING,
        text.loc[bad, C.SOURCE_ROW],
        C.SOURCE,
        originals,
        "source `" + originals.astype(str) + f"` is not in the code lists; recorded as {other}",
    )
    return column, report


def _status(text: pd.DataFrame, codes: pd.DataFrame) -> pd.Series:
    """Status from the file, else from the value: `<5` -> C, empty -> M, a count -> A."""
    kind = codes["value_kind"]
    given = codes[C.STATUS]
    status = given.copy()
    status = status.mask(kind == CENSORED, "C")
    status = status.mask((kind == MISSING) & ~given.isin(["M", "C"]), "M")
    return status.fillna("A").astype("string")


def _loadable(text: pd.DataFrame, codes: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Rows that can be placed in the warehouse; the others are reported, never dropped silently."""
    reasons = pd.Series("", index=text.index, dtype=object)
    checks = (
        (codes[C.COUNTRY].isna(), C.COUNTRY, "country `{}` is unknown"),
        (codes[C.YEAR].isna(), C.YEAR, "year `{}` is not a year"),
        (codes[C.INDICATOR].isna(), C.INDICATOR, "indicator `{}` is unknown"),
        (~codes["value_kind"].isin(list(LOADABLE_KINDS)), C.VALUE, "value `{}` is not a count"),
    )
    for mask, column, template in checks:
        if mask.any():
            described = text.loc[mask, column].map(template.format)
            reasons.loc[mask] = reasons.loc[mask] + "; " + described
    bad = reasons != ""
    if not bad.any():
        return ~bad, None
    report = problems(
        "harmonize.row_not_loaded",
        WARNING,
        text.loc[bad, C.SOURCE_ROW],
        None,
        pd.Series(pd.NA, index=text.index[bad]),
        "row not loaded: " + reasons[bad].str.removeprefix("; "),
    )
    return ~bad, report


def _roll_up(obs: pd.DataFrame, layout: str, codelists: CodeLists) -> pd.DataFrame:
    """Where the source's list of forms is coarser (rollups target = layout), use its codes."""
    rollups = codelists.rollups[codelists.rollups["target"] == layout.upper()]
    if rollups.empty:
        return obs
    mapping = dict(zip(rollups["code"], rollups["rolled_code"], strict=True))
    out = obs.copy()
    out[C.EXPLOITATION] = out[C.EXPLOITATION].map(lambda code: mapping.get(code, code))
    return out


def _merge_duplicates(
    obs: pd.DataFrame, text: pd.DataFrame, factors: dict[str, Factor] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells sharing a key after mapping: parts of one cell, or the same cell repeated.

    Rows whose texts differ in a breakdown that maps to one code other than the total (sub-forms
    of "other", two spellings of unknown citizenship) are parts: they are summed. Otherwise the
    rows repeat one cell (the export lists its total again as a citizenship `TOTAL`): the first
    is kept. Both are warnings naming every row.
    """
    key = list(C.OBSERVATION_KEY)
    duplicated = _duplicated_rows(obs, key, factors or {}, len(text))
    if not duplicated.any():
        return obs, None
    candidates = obs[duplicated]
    groups = [candidates[k] for k in key]
    is_part = pd.Series(False, index=candidates.index)
    for dimension in C.BREAKDOWN_DIMENSIONS:
        written = text.loc[candidates.index, dimension].str.casefold()
        spellings = written.groupby(groups, sort=False, dropna=False).transform("nunique")
        is_part |= (spellings > 1) & (candidates[dimension] != C.TOTAL)
    is_part = is_part.groupby(groups, sort=False, dropna=False).transform("any")
    summed, summed_report = _sum_parts(candidates[is_part])
    kept, repeat_report = _keep_first(candidates[~is_part])
    merged = pd.concat([obs[~duplicated], summed, kept])
    return merged, concat_reports([summed_report, repeat_report])


def duplicated_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """``frame.duplicated(columns, keep=False)`` (nulls equal to nulls), on one integer per row:
    each column is coded once and the codes are combined, which is several times faster on a
    million rows than grouping the columns together."""
    key = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for column in columns:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
        n = max(len(uniques), 1)
        if size * n >= 2**62:  # renumber before the product could overflow
            key, found = pd.factorize(key)
            size = max(len(found), 1)
        key = key * n + codes
        size *= n
    return pd.Series(key, index=frame.index).duplicated(keep=False)


def _duplicated_rows(
    obs: pd.DataFrame, columns: list[str], factors: dict[str, Factor], n_text: int
) -> pd.Series:
    """``duplicated_keys(obs, columns)`` for observations whose index is each row's position in
    the coded frame: a column with a factor holds a function of each cell's text (its code,
    filled and rolled up), so it is numbered once per text and spread by position instead of
    hashing a million cells again. Columns without a factor are factorized as there."""
    if not factors:
        return duplicated_keys(obs, columns)
    rows = obs.index.to_numpy()
    key = np.zeros(len(obs), dtype=np.int64)
    size = 1
    for column in columns:
        factor = factors.get(column)
        if factor is None or len(factor[0]) != n_text:
            codes, uniques = pd.factorize(obs[column], use_na_sentinel=False)
            n = max(len(uniques), 1)
        else:
            codes, n = _ids_by_text(obs[column], factor[0][rows], len(factor[1]))
        if size * n >= 2**62:  # renumber before the product could overflow
            key, found = pd.factorize(key)
            size = max(len(found), 1)
        key = key * n + codes
        size *= n
    if pd.Index(key).is_unique:  # the usual file: a cheaper hash pass than duplicated's
        return pd.Series(False, index=obs.index)
    return pd.Series(key, index=obs.index).duplicated(keep=False)


def _ids_by_text(values: pd.Series, positions: np.ndarray, n_texts: int) -> tuple[np.ndarray, int]:
    """Each cell's value numbered (nulls equal to nulls), read once per text: ``values`` must be
    the same for every cell of one text. Returns the numbers and how many there are."""
    first_row = np.full(n_texts, -1, dtype=np.int64)
    first_row[positions[::-1]] = np.arange(len(positions) - 1, -1, -1)
    present = first_row >= 0
    picked = values.iloc[first_row[present]].to_numpy(dtype=object, na_value=None)
    numbers, found = pd.factorize(picked, use_na_sentinel=False)
    of_text = np.zeros(n_texts, dtype=np.int64)
    of_text[present] = numbers
    return of_text[positions], max(len(found), 1)


def _keep_first(repeats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    if repeats.empty:
        return repeats, None
    key = list(C.OBSERVATION_KEY)
    ordered = repeats.sort_values(C.SOURCE_ROW, kind="stable")
    shown = (
        ordered[C.VALUE]
        .astype("string")
        .fillna("<5")
        .where(ordered[C.STATUS] == "C", ordered[C.VALUE].astype("string").fillna("empty"))
    )
    described = ordered.assign(
        _rows=ordered[C.SOURCE_ROW].astype(str), _shown="`" + shown.astype(str) + "`"
    )
    grouped = described.groupby(key, sort=False, dropna=False)
    summary = grouped.agg(
        first_row=(C.SOURCE_ROW, "min"),
        rows=("_rows", ", ".join),
        values=("_shown", ", ".join),
        n_values=("_shown", "nunique"),
    )
    agree = summary["n_values"] == 1
    messages = (
        "rows "
        + summary["rows"]
        + " give the same cell again ("
        + summary["values"]
        + "); the first is kept"
    ).where(
        agree,
        "rows "
        + summary["rows"]
        + " give different figures for the same cell ("
        + summary["values"]
        + "); the first is kept, please check which is right",
    )
    report = problems(
        "harmonize.duplicates_repeated",
        WARNING,
        summary["first_row"],
        None,
        summary["values"],
        messages,
    )
    return ordered.drop_duplicates(key, keep="first"), report


def _sum_parts(obs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parts of one cell summed; a sum with a censored part (`<5`) is censored (value null,
    status C) and the warning gives its bounds."""
    if obs.empty:
        return obs, None
    key = list(C.OBSERVATION_KEY)
    parts = obs.copy()
    parts["_censored"] = parts[C.STATUS] == "C"
    parts["_known"] = parts[C.VALUE].fillna(0)
    parts["_rows"] = parts[C.SOURCE_ROW].astype(str)
    grouped = parts.groupby(key, sort=False, dropna=False)
    summary = grouped.agg(
        known=("_known", "sum"),
        censored=("_censored", "sum"),
        first_row=(C.SOURCE_ROW, "min"),
        rows=("_rows", ", ".join),
        status=(C.STATUS, "first"),
        comment=(C.COMMENT, "first"),
    ).reset_index()
    summary[C.VALUE] = summary["known"].astype("Int64").mask(summary["censored"] > 0)
    summary[C.STATUS] = summary["status"].mask(summary["censored"] > 0, "C")
    summary[C.COMMENT] = summary["comment"]
    summary[C.SOURCE_ROW] = summary["first_row"]
    upper = summary["known"] + CENSORED_UPPER * summary["censored"]
    bounds = np.where(
        summary["censored"] > 0,
        " (includes cells `<5`: the total lies between "
        + summary["known"].astype(str)
        + " and "
        + upper.astype(str)
        + ", recorded as censored)",
        "",
    )
    messages = (
        "rows "
        + summary["rows"]
        + " describe the same cell; they are summed as parts of one cell"
        + bounds
    )
    report = problems(
        "harmonize.duplicates_summed",
        WARNING,
        summary["first_row"],
        None,
        summary[C.VALUE].astype("string"),
        messages,
    )
    return summary[list(obs.columns)], report


def _observation_dtypes(obs: pd.DataFrame) -> pd.DataFrame:
    out = obs.reindex(columns=list(C.OBSERVATION_COLUMNS))
    types = {column: "string" for column in C.OBSERVATION_COLUMNS}
    types.update({C.YEAR: "Int64", C.VALUE: "Int64", C.SOURCE_ROW: "Int64"})
    return out.astype(types)
