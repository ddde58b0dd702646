from __future__ import annotations

import pandas as pd

from tipstats.codelists import load_codelists
from tipstats.home import reference_dir


def _seed(name: str) -> pd.DataFrame:
    return pd.read_csv(reference_dir() / name, dtype=str, keep_default_na=False)


def test_every_indicator_and_source_has_one_precedence() -> None:
    codes = load_codelists()
    precedence = _seed("source_precedence.csv")
    expected = {(i, s) for i in codes.codes("indicator") for s in codes.codes("source")}
    assert set(zip(precedence["indicator"], precedence["source"], strict=True)) == expected
    assert not precedence.duplicated(["indicator", "source"]).any()
    # within an indicator, each rank is used once: the choice is never a tie
    assert not precedence.duplicated(["indicator", "precedence"]).any()


def test_sdg_series_cover_the_sdg_rollup_once_each() -> None:
    rollups = load_codelists().rollups
    sdg_forms = set(rollups.loc[rollups["target"] == "SDG", "rolled_code"]) - {"UNKNOWN"}
    series = _seed("sdg_series.csv")
    assert set(series["exploitation"]) == sdg_forms
    assert series["series"].is_unique and series["exploitation"].is_unique


def test_share_groups_use_known_codes() -> None:
    codes = load_codelists()
    groups = _seed("share_groups.csv")
    assert set(groups["sex"]) <= set(codes.codes("sex"))
    assert set(groups["age"]) <= set(codes.codes("age"))
    assert not groups.duplicated(["sex", "age"]).any()
