"""SDG indicator 16.2.2 as SDMX-CSV 2.0 (pure): the published country table in, a frame out.

Layout: ``STRUCTURE,STRUCTURE_ID,ACTION`` then the dimensions of the IAEG-SDGs global dataflow
(``SERIES, REF_AREA, SEX, AGE, TIME_PERIOD``), the measure ``OBS_VALUE`` and the attributes
``UNIT_MEASURE, OBS_STATUS, CONF_STATUS``. ``REF_AREA`` is the M49 code as the SDG database writes
it (no leading zeros). A hidden count has an empty ``OBS_VALUE`` and ``CONF_STATUS`` ``A``
(primary confidentiality, small count) or ``D`` (secondary); a published one ``F`` (free).
Only the SDMX sex and age codes of the dataflow are kept (``F, M, _T`` and ``Y0T17, Y_GE18, _T``).
"""

from __future__ import annotations

import pandas as pd

from tipstats.columns import AGE, SEX, YEAR
from tipstats.disclosure import FLAG, NOT_AVAILABLE, SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY
from tipstats.errors import TipstatsError

STRUCTURE = "dataflow"
STRUCTURE_ID = "IAEG-SDGs:DF_SDG_GLH(1.0)"
ACTION = "I"
SDMX_SEX = ("F", "M", "_T")
SDMX_AGE = ("Y0T17", "Y_GE18", "_T")
UNIT = "NUMBER"
COLUMNS = (
    "STRUCTURE",
    "STRUCTURE_ID",
    "ACTION",
    "SERIES",
    "REF_AREA",
    "SEX",
    "AGE",
    "TIME_PERIOD",
    "OBS_VALUE",
    "UNIT_MEASURE",
    "OBS_STATUS",
    "CONF_STATUS",
)
_CONF = {SUPPRESSED_PRIMARY: "A", SUPPRESSED_SECONDARY: "D"}


def sdg_16_2_2_sdmx(country_table: pd.DataFrame, countries: pd.DataFrame) -> pd.DataFrame:
    """The SDMX-CSV rows of a *published* country table (``series, country, year, sex, age,
    value, flag``); ``countries`` maps ``iso3`` to ``m49``."""
    m49 = dict(zip(countries["iso3"], countries["m49"], strict=True))
    frame = country_table[
        country_table[SEX].isin(SDMX_SEX) & country_table[AGE].isin(SDMX_AGE)
    ].copy()
    # The distinct countries, not the rows (iterating a str column is slow, and there are
    # ~165,000 rows at world size).
    present = set(frame["country"].unique().tolist())
    unknown = sorted(present - set(m49))
    if unknown:
        raise TipstatsError(f"no M49 code for country {', '.join(unknown)} in countries.csv")
    status = frame["status"] if "status" in frame.columns else pd.Series("A", index=frame.index)
    status = status.fillna("A").where(frame[FLAG] != NOT_AVAILABLE, "M")
    out = pd.DataFrame(
        {
            "STRUCTURE": STRUCTURE,
            "STRUCTURE_ID": STRUCTURE_ID,
            "ACTION": ACTION,
            "SERIES": frame["series"].astype(str),
            "REF_AREA": frame["country"].map({c: str(int(m49[c])) for c in present}),
            "SEX": frame[SEX].astype(str),
            "AGE": frame[AGE].astype(str),
            "TIME_PERIOD": frame[YEAR].astype(int).astype(str),
            "OBS_VALUE": frame["value"].astype("Int64").astype("string").fillna(""),
            "UNIT_MEASURE": UNIT,
            "OBS_STATUS": status.astype(str),
            "CONF_STATUS": frame[FLAG].map(_CONF).fillna("F").astype(str),
        },
        columns=list(COLUMNS),
    )
    key = ["SERIES", "REF_AREA", "SEX", "AGE", "TIME_PERIOD"]
    duplicated = out.duplicated(key, keep=False)
    if duplicated.any():
        first = out.loc[duplicated, key].iloc[0].to_dict()
        raise TipstatsError(
            f"sdg_16_2_2 has more than one row for the SDMX key {first}: the series must "
            "carry the form of exploitation"
        )
    return out.sort_values(key, kind="mergesort").reset_index(drop=True)
