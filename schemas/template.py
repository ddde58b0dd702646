"""The raw template layer: every cell still text, as the submitting office wrote it.

Checks carry their rule id as the check name (``value.negative``...), so that
``tipstats.validation`` can turn pandera's ``failure_cases`` into report rows directly.
Allowed codes come from the code lists, so the full schema is built per code lists by
``template_schema``; ``TemplateText`` alone holds the checks that need no reference data.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from tipstats import columns as C
from tipstats.codelists import CodeLists
from tipstats.harmonize import (
    DECIMAL,
    FIRST_YEAR,
    NEGATIVE,
    NOT_A_NUMBER,
    THOUSANDS_AMBIGUOUS,
    TOO_LARGE,
    classify_counts,
    clean_text,
    map_distinct,
    parse_years,
)

__all__ = ["FIRST_YEAR", "TemplateColumns", "TemplateText", "template_schema"]


def _not_kind(values: pd.Series, kind: str) -> pd.Series:
    return _kinds(values) != kind


_last_kinds: list[pd.Series] = []


def _kinds(values: pd.Series) -> pd.Series:
    """The kind of each value cell; the five value checks see the same column one after the
    other, so the last column's kinds are kept for the next check."""
    if _last_kinds and _last_kinds[0].equals(values) and _last_kinds[0].index.equals(values.index):
        return _last_kinds[1]
    kinds = classify_counts(values)["kind"]
    _last_kinds[:] = [values.copy(), kinds]
    return kinds


class TemplateColumns(pa.DataFrameModel):
    """The columns every layer shares: the key dimensions and the annotations, as text."""

    country: Series[str] = pa.Field(nullable=True)
    indicator: Series[str] = pa.Field(nullable=True)
    sex: Series[str] = pa.Field(nullable=True)
    age: Series[str] = pa.Field(nullable=True)
    exploitation: Series[str] = pa.Field(nullable=True)
    citizenship: Series[str] = pa.Field(nullable=True)
    status: Series[str] | None = pa.Field(nullable=True)
    source: Series[str] | None = pa.Field(nullable=True)
    comment: Series[str] | None = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True


class TemplateText(TemplateColumns):
    """One submission in the template layout, cells as cleaned text (empty string = blank)."""

    year: Series[str] = pa.Field(nullable=True)
    value: Series[str] = pa.Field(nullable=True)

    @pa.check(*(c for c in C.TEMPLATE_REQUIRED if c != C.VALUE), name="cell.missing")
    def required_cell_given(cls, values: pd.Series) -> pd.Series:
        return clean_text(values) != ""

    @pa.check(C.YEAR, name="year.invalid")
    def year_is_a_year(cls, values: pd.Series) -> pd.Series:
        return (values == "") | parse_years(values).notna()

    @pa.check(C.YEAR, name="year.out_of_range")
    def year_in_range(cls, values: pd.Series) -> pd.Series:
        years = parse_years(values)
        inside = years.between(FIRST_YEAR, dt.date.today().year)
        return (years.isna() | inside).astype(bool)

    @pa.check(C.VALUE, name="value.negative")
    def value_not_negative(cls, values: pd.Series) -> pd.Series:
        return _not_kind(values, NEGATIVE)

    @pa.check(C.VALUE, name="value.not_integer")
    def value_whole(cls, values: pd.Series) -> pd.Series:
        return _not_kind(values, DECIMAL)

    @pa.check(C.VALUE, name="value.not_a_number")
    def value_numeric(cls, values: pd.Series) -> pd.Series:
        return _not_kind(values, NOT_A_NUMBER)

    @pa.check(C.VALUE, name="value.thousands_ambiguous")
    def value_unambiguous(cls, values: pd.Series) -> pd.Series:
        return _not_kind(values, THOUSANDS_AMBIGUOUS)

    @pa.check(C.VALUE, name="value.too_large")
    def value_plausible_size(cls, values: pd.Series) -> pd.Series:
        return _not_kind(values, TOO_LARGE)


def _known(resolve) -> pa.Check:
    def check(values: pd.Series) -> pd.Series:
        cells = clean_text(values)
        return map_distinct(cells, lambda v: v == "" or resolve(v) is not None).astype(bool)

    return check


def template_schema(codelists: CodeLists, layout: str = "template") -> pa.DataFrameSchema:
    """``TemplateText`` plus the code-list checks: unknown labels and countries.

    In the dataUNODC export citizenship is free text; what cannot be mapped is a harmonization
    warning there, not a reason to reject the file, so it is not checked here.
    """
    schema = TemplateText.to_schema()
    coded = [d for d in C.CODED_DIMENSIONS if not (layout == "dataunodc" and d == C.CITIZENSHIP)]
    updates = {}
    for dimension in coded:
        check = pa.Check(_known(lambda v, d=dimension: codelists.lookup(d, v)), name="code.unknown")
        updates[dimension] = {"checks": [*schema.columns[dimension].checks, check]}
    country = pa.Check(_known(codelists.country_iso3), name="country.unknown")
    updates[C.COUNTRY] = {"checks": [*schema.columns[C.COUNTRY].checks, country]}
    return schema.update_columns(updates)
