"""The harmonized canonical observation (DESIGN.md section 3), as it enters the warehouse.

Inherits the shared key columns from the template layer and tightens them: codes from the code
lists, integer years and counts, and the cross-column rules.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.template import FIRST_YEAR, TemplateColumns
from tipstats import columns as C
from tipstats.codelists import CodeLists

# Statuses whose value is empty by definition (codes.csv: M not available, C censored).
EMPTY_VALUE_STATUSES = ("M", "C")


class Observation(TemplateColumns):
    country: Series[str]
    year: Series[int] = pa.Field(ge=FIRST_YEAR)
    indicator: Series[str]
    sex: Series[str]
    age: Series[str]
    exploitation: Series[str]
    citizenship: Series[str]
    source: Series[str]
    value: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    status: Series[str]
    comment: Series[str] = pa.Field(nullable=True)
    source_row: Series[pd.Int64Dtype] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True
        unique = list(C.OBSERVATION_KEY)

    @pa.dataframe_check(name="status.value_inconsistent")
    def value_matches_status(cls, frame: pd.DataFrame) -> pd.Series:
        """An empty value needs status M or C; statuses M and C need an empty value."""
        empty_status = frame[C.STATUS].isin(EMPTY_VALUE_STATUSES)
        return frame[C.VALUE].isna() == empty_status

    @pa.dataframe_check(name="identity.part_exceeds_total")
    def part_within_total(cls, frame: pd.DataFrame) -> pd.Series:
        from tipstats.identities import part_exceeds_total_mask

        return ~part_exceeds_total_mask(frame)


def observation_schema(codelists: CodeLists) -> pa.DataFrameSchema:
    """``Observation`` with each coded column restricted to its code list."""
    schema = Observation.to_schema()
    countries = codelists.countries["iso3"].tolist()
    allowed = {d: codelists.codes(d) for d in C.CODED_DIMENSIONS}
    allowed[C.CITIZENSHIP] = allowed[C.CITIZENSHIP] + countries
    allowed[C.COUNTRY] = countries
    updates = {
        column: {"checks": [*schema.columns[column].checks, pa.Check.isin(codes)]}
        for column, codes in allowed.items()
    }
    return schema.update_columns(updates)
