"""Input layouts (pure): recognise a header, and turn the dataUNODC export into the template layout.

Two layouts are read:
- ``template``: the submission template (``tipstats.columns.TEMPLATE_COLUMNS``), whose header
  may be written in English, French or Spanish and with any case, accents or spacing; the
  accepted spellings are data (``data/reference/header_aliases.csv``), passed in as a mapping.
- ``dataunodc``: the public GLOTIP export of dataUNODC (13 text columns, one row per published
  cell, ``Dimension``/``Category`` naming the one breakdown a row belongs to).

Everything here takes and returns frames of text; no file is opened. Cells keep the text the
source wrote (``1,282``, ``<5``): turning text into numbers is harmonization's job, except where
the dataUNODC conversion must add up sub-forms of one cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from tipstats import columns as C
from tipstats.codelists import normalize_label
from tipstats.report_frame import WARNING, concat_reports, empty_report, problems

TEMPLATE = "template"
DATAUNODC = "dataunodc"
LAYOUTS = (TEMPLATE, DATAUNODC)

# --- the dataUNODC GLOTIP export ----------------------------------------------------------------
# Column names of the export, as dataUNODC writes them (its format, not a code list).
ISO3_CODE = "Iso3_code"
COUNTRY_NAME = "Country"
REGION = "Region"
SUBREGION = "Subregion"
INDICATOR = "Indicator"
DIMENSION = "Dimension"
CATEGORY = "Category"
SEX = "Sex"
AGE = "Age"
YEAR = "Year"
UNIT = "Unit of measurement"
TXT_VALUE = "txtVALUE"
SOURCE = "Source"
DATAUNODC_COLUMNS = (
    ISO3_CODE,
    COUNTRY_NAME,
    REGION,
    SUBREGION,
    INDICATOR,
    DIMENSION,
    CATEGORY,
    SEX,
    AGE,
    YEAR,
    UNIT,
    TXT_VALUE,
    SOURCE,
)
DATAUNODC_REQUIRED = (ISO3_CODE, INDICATOR, DIMENSION, CATEGORY, SEX, AGE, YEAR, TXT_VALUE)
# Columns no template header uses: two of them in a header identify the export.
_DATAUNODC_MARKERS = (ISO3_CODE, REGION, SUBREGION, DIMENSION, CATEGORY, UNIT, TXT_VALUE)

# Values of the export's `Dimension` column (matched case-insensitively) and its word for "all
# categories", which the code lists map to `_T`.
DIMENSION_TOTAL = "total"
DIMENSION_EXPLOITATION = "by form of exploitation"
DIMENSION_CITIZENSHIP = "by citizenship"
DIMENSION_REPATRIATION = "by country of repatriation"
EXPORT_TOTAL = "Total"
COUNTS_UNIT = "counts"

# Status of a cell whose value is known only within bounds (DESIGN.md section 3: `<5` -> C).
CENSORED_STATUS = "C"
CENSORED_UPPER = 4  # `<5`: the true value lies in 0..4

_COUNT = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
_CENSORED = re.compile(r"<\s*5")


# --- headers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeaderMatch:
    """What a header row means: the layout, and which position holds which column.

    ``columns`` maps a position to a column of the layout (template columns, or the export's
    own names for ``dataunodc``); ``unknown`` holds positions whose name is not recognised and
    ``duplicates`` positions naming a column already named earlier (position of the first).
    """

    layout: str | None
    columns: dict[int, str] = field(default_factory=dict)
    unknown: dict[int, str] = field(default_factory=dict)
    duplicates: dict[int, tuple[str, int]] = field(default_factory=dict)

    @property
    def n_recognised(self) -> int:
        return len(self.columns) + len(self.duplicates)

    def missing(self) -> list[str]:
        required = DATAUNODC_REQUIRED if self.layout == DATAUNODC else C.TEMPLATE_REQUIRED
        named = set(self.columns.values())
        return [column for column in required if column not in named]


def header_key(text: object) -> str:
    """The matching key of a header cell: case, accents, punctuation and spacing folded."""
    if type(text) is str:
        return _header_key_of_text(text)  # files repeat their header: each text folded once
    return _fold_header(text)


def _fold_header(text: object) -> str:
    return " ".join(normalize_label(text).replace("_", " ").split())


_header_key_of_text = lru_cache(maxsize=8192)(_fold_header)


_DATAUNODC_KEYS = {header_key(name): name for name in DATAUNODC_COLUMNS}
_MARKER_KEYS = {header_key(name) for name in _DATAUNODC_MARKERS}


def match_header(cells: Sequence[object], aliases: Mapping[str, str]) -> HeaderMatch:
    """Read one row as a header. ``aliases`` maps ``header_key(alias)`` to a template column.

    The layout is ``dataunodc`` when the row holds two columns only the export has, ``template``
    when it names at least one template column, else None (not a header).
    """
    keys = [header_key(cell) for cell in cells]
    if sum(key in _MARKER_KEYS for key in set(keys)) >= 2:
        return _assign(cells, keys, _DATAUNODC_KEYS, DATAUNODC)
    match = _assign(cells, keys, aliases, TEMPLATE)
    if match.n_recognised == 0:
        return HeaderMatch(layout=None, unknown=match.unknown)
    return match


def _assign(
    cells: Sequence[object], keys: list[str], lookup: Mapping[str, str], layout: str
) -> HeaderMatch:
    columns: dict[int, str] = {}
    first: dict[str, int] = {}
    unknown: dict[int, str] = {}
    duplicates: dict[int, tuple[str, int]] = {}
    for position, key in enumerate(keys):
        column = lookup.get(key)
        if column is None:
            if key:
                unknown[position] = str(cells[position]).strip()
            continue
        if column in first:
            duplicates[position] = (column, first[column])
            continue
        first[column] = position
        columns[position] = column
    return HeaderMatch(layout=layout, columns=columns, unknown=unknown, duplicates=duplicates)


# --- dataUNODC -> template ----------------------------------------------------------------------
def dataunodc_to_template(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The export (its own column names, text, plus ``source_row``) in the template layout.

    - ``Iso3_code`` -> country (the ``Country`` name where the code is blank), ``Indicator``,
      ``Sex``, ``Age``, ``Year`` and ``txtVALUE`` -> value are kept as written (``1,282``, ``<5``);
    - ``Dimension``/``Category``: ``by form of exploitation`` puts the category in exploitation,
      ``by citizenship`` in citizenship; the other breakdown is ``Total``;
    - ``Source`` is kept as text (the code lists map ``GLOTIP`` to the source ``OTHER``); status
      and comment stay empty (harmonization derives C from ``<5``);
    - rows that the canonical model has no place for (``by country of repatriation``, another
      unit than counts, an unknown dimension) are left out, each with a warning naming its row;
    - cells of one form repeated for the same key are sub-forms of that form: they are summed
      into one row (``sum_subforms``), with a warning naming the rows.
    """
    text = pd.DataFrame(index=frame.index)
    for column in DATAUNODC_COLUMNS:
        text[column] = _text(frame, column)
    rows = frame[C.SOURCE_ROW]
    dimension = text[DIMENSION].str.strip().str.casefold()
    reports = []

    repatriation = dimension == DIMENSION_REPATRIATION
    reports.append(
        problems(
            "dataunodc.repatriation_not_modelled",
            WARNING,
            rows[repatriation],
            CATEGORY,
            text.loc[repatriation, CATEGORY],
            "victims by country of repatriation are not part of the canonical model; "
            "this row is not loaded",
        )
    )
    unit = text[UNIT].str.strip().str.casefold()
    other_unit = ~repatriation & ~unit.isin([COUNTS_UNIT, ""])
    reports.append(
        problems(
            "dataunodc.unit_not_counts",
            WARNING,
            rows[other_unit],
            UNIT,
            text.loc[other_unit, UNIT],
            "only counts of persons are loaded; this row is in another unit and is not loaded",
        )
    )
    known = dimension.isin([DIMENSION_TOTAL, DIMENSION_EXPLOITATION, DIMENSION_CITIZENSHIP])
    unknown_dimension = ~repatriation & ~other_unit & ~known
    reports.append(
        problems(
            "dataunodc.unknown_dimension",
            WARNING,
            rows[unknown_dimension],
            DIMENSION,
            text.loc[unknown_dimension, DIMENSION],
            "dimension `"
            + text.loc[unknown_dimension, DIMENSION]
            + "` is not one the export is known to use; this row is not loaded",
        )
    )
    keep = known & ~other_unit
    text, dimension, rows = text[keep], dimension[keep], rows[keep]

    iso3 = text[ISO3_CODE]
    out = pd.DataFrame(index=text.index)
    out[C.COUNTRY] = iso3.where(iso3.str.strip() != "", text[COUNTRY_NAME])
    out[C.YEAR] = text[YEAR]
    out[C.INDICATOR] = text[INDICATOR]
    out[C.SEX] = text[SEX]
    out[C.AGE] = text[AGE]
    out[C.EXPLOITATION] = text[CATEGORY].where(dimension == DIMENSION_EXPLOITATION, EXPORT_TOTAL)
    out[C.CITIZENSHIP] = text[CATEGORY].where(dimension == DIMENSION_CITIZENSHIP, EXPORT_TOTAL)
    out[C.VALUE] = text[TXT_VALUE]
    out[C.STATUS] = ""
    out[C.SOURCE] = text[SOURCE]
    out[C.COMMENT] = ""
    out[C.SOURCE_ROW] = rows
    out = out.reset_index(drop=True)

    out, summed = sum_subforms(out, dimension.reset_index(drop=True) == DIMENSION_EXPLOITATION)
    reports.append(summed)
    return out, concat_reports(reports)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype="str")
    return frame[column].astype("str").fillna("")


def sum_subforms(frame: pd.DataFrame, by_form: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the form breakdown that repeat one key are sub-forms of that form: sum them.

    The export lists sub-forms of "other forms of exploitation" under the same label, so that
    one cell appears several times. The sum replaces them, on the row of the first part, and the
    warning names every part's row. When a part is ``<5`` the sum is known only within bounds:
    its value is left empty with status C, and the comment and the warning give the bounds
    (each ``<5`` counts 0..4). Groups with a part that is not a count are left as they are, for
    validation to report.
    """
    if not by_form.any():
        return frame, empty_report()
    key_columns = [C.COUNTRY, C.YEAR, C.INDICATOR, C.SEX, C.AGE, C.EXPLOITATION]
    forms = frame.loc[by_form.to_numpy(), key_columns]
    keys = forms.apply(lambda s: s.str.strip().str.casefold())
    repeated = keys.duplicated(keep=False)
    if not repeated.any():
        return frame, empty_report()

    # Edit plain lists: a few hundred groups, each touching three cells.
    values = frame[C.VALUE].tolist()
    status = frame[C.STATUS].tolist()
    comment = frame[C.COMMENT].tolist()
    source_rows = frame[C.SOURCE_ROW].tolist()
    forms_text = frame[C.EXPLOITATION].tolist()
    drop: list[int] = []
    report_rows, report_values, messages = [], [], []
    for positions in keys[repeated].groupby(key_columns, sort=False).indices.values():
        index = keys[repeated].index[positions]  # frame positions (the frame has a range index)
        total, censored = _add_up(values[i] for i in index)
        if total is None:
            continue
        first = int(index[0])
        part_rows = ", ".join(str(source_rows[i]) for i in index)
        if censored:
            bounds = f"between {total} and {total + CENSORED_UPPER * censored}"
            values[first], status[first] = "", CENSORED_STATUS
            comment[first] = f"sum of sub-forms in rows {part_rows}: {bounds}"
            detail = f"{bounds} (a part is `<5`, counted as 0..4): recorded as censored"
        else:
            values[first] = str(total)
            comment[first] = f"sum of sub-forms in rows {part_rows}"
            detail = str(total)
        drop.extend(int(i) for i in index[1:])
        report_rows.append(source_rows[first])
        report_values.append(values[first])
        messages.append(
            f"rows {part_rows} are sub-forms of `{forms_text[first]}` for the same "
            f"country, year, indicator, sex and age; summed into one cell: {detail}"
        )
    out = frame.assign(
        **{
            C.VALUE: pd.array(values, dtype="str"),
            C.STATUS: pd.array(status, dtype="str"),
            C.COMMENT: pd.array(comment, dtype="str"),
        }
    )
    report = problems(
        "dataunodc.subforms_summed", WARNING, report_rows, C.VALUE, report_values, messages
    )
    return out.drop(index=drop).reset_index(drop=True), report


def _add_up(values: Iterable[object]) -> tuple[int | None, int]:
    """Sum of count texts (``1,282``) and the number of ``<5`` parts; None if a part is neither."""
    total, censored = 0, 0
    for value in values:
        text = str(value).strip()
        if _CENSORED.fullmatch(text):
            censored += 1
        elif _COUNT.fullmatch(text):
            total += int(text.replace(",", ""))
        else:
            return None, 0
    return total, censored
