"""SDMX-CSV rows of the country table: the same frame as the row-wise mapping it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tipstats.disclosure import (
    FLAG,
    NOT_AVAILABLE,
    OBSERVED,
    SUPPRESSED_PRIMARY,
    SUPPRESSED_SECONDARY,
)
from tipstats.errors import TipstatsError
from tipstats.sdmx import sdg_16_2_2_sdmx

COUNTRIES = pd.DataFrame({"iso3": ["AUT", "BRA", "ZAF", "USA"], "m49": [40, 76, 710, 840]})


def _country_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    flags = rng.choice([OBSERVED, SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY, NOT_AVAILABLE, None], n)
    value = pd.array(rng.integers(0, 500, n), dtype="Int64")
    value[flags != OBSERVED] = pd.NA
    frame = pd.DataFrame(
        {
            "series": rng.choice(["VC_HTF_DETV", "VC_HTF_DETVFL"], n),
            "country": rng.choice(COUNTRIES["iso3"], n),
            "year": rng.integers(2000, 2025, n).astype("int32"),
            "sex": rng.choice(["F", "M", "_T", "UNK"], n),
            "age": rng.choice(["Y0T17", "Y_GE18", "_T", "UNK"], n),
            "value": value,
            FLAG: pd.array(flags, dtype="string"),
            "status": rng.choice(["A", "E", None], n),
        }
    ).astype({"country": "str", "series": "str"})
    return frame.drop_duplicates(["series", "country", "year", "sex", "age"])


def _row_wise(country_table: pd.DataFrame, countries: pd.DataFrame) -> pd.Series:
    """REF_AREA and CONF_STATUS as the function per row gave them (before issue 8)."""
    m49 = dict(zip(countries["iso3"], countries["m49"], strict=True))
    sex, age = country_table["sex"], country_table["age"]
    frame = country_table[sex.isin(("F", "M", "_T")) & age.isin(("Y0T17", "Y_GE18", "_T"))]
    conf = {SUPPRESSED_PRIMARY: "A", SUPPRESSED_SECONDARY: "D"}
    return pd.DataFrame(
        {
            "key": frame["series"]
            + frame["country"]
            + frame["year"].astype(str)
            + frame["sex"]
            + frame["age"],
            "REF_AREA": frame["country"].map(lambda c: str(int(m49[c]))),
            "CONF_STATUS": frame[FLAG].map(lambda f: conf.get(f, "F")).astype(str),
        }
    )


@pytest.mark.parametrize("seed", range(5))
def test_codes_are_those_of_the_row_wise_mapping(seed: int) -> None:
    table = _country_table(3000, seed)
    out = sdg_16_2_2_sdmx(table, COUNTRIES)
    expected = _row_wise(table, COUNTRIES).sort_values("key")
    m49_of = {"40": "AUT", "76": "BRA", "710": "ZAF", "840": "USA"}
    key = out["SERIES"] + out["REF_AREA"].map(m49_of) + out["TIME_PERIOD"] + out["SEX"] + out["AGE"]
    got = pd.DataFrame({"key": key, "REF_AREA": out["REF_AREA"], "CONF_STATUS": out["CONF_STATUS"]})
    got = got.sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_dtype=False)
    assert set(out["CONF_STATUS"]) == {"A", "D", "F"}
    assert (out.loc[out["CONF_STATUS"] != "F", "OBS_VALUE"] == "").all()


def test_a_country_without_m49_code_is_named() -> None:
    table = _country_table(50, 9)
    table.loc[table.index[:2], "country"] = "XKX"
    with pytest.raises(TipstatsError, match="no M49 code for country XKX"):
        sdg_16_2_2_sdmx(table, COUNTRIES)
