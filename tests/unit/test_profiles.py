"""Country profiles: the column-list implementation gives the same bytes as the row-wise one.

``plain_profile`` / ``_plain_share_rows`` are frozen copies of ``tipstats.profiles`` before it
stopped iterating rows with pandas (issue 8); they are the reference every generated case is
compared against, edge cases included (duplicates, missing flags, gaps, no region shares).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tipstats import profiles
from tipstats.columns import AGE, EXPLOITATION, SEX, TOTAL, YEAR
from tipstats.disclosure import OBSERVED, SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY
from tipstats.profiles import SEX_AGE_GROUPS, _cell, _share, country_profile

SYMBOLS = {SUPPRESSED_PRIMARY: "x", SUPPRESSED_SECONDARY: "y"}
LABELS = {(TOTAL, TOTAL): "All victims", ("F", "Y_GE18"): "Women", ("F", "Y0T17"): "Girls"}
GROUPS = [(TOTAL, TOTAL), *SEX_AGE_GROUPS]


# --------------------------------------------------------------- frozen reference (before #8)


def plain_profile(
    *,
    iso3: str,
    name: str,
    region: str,
    scheme: str,
    country_rows: pd.DataFrame,
    region_shares: pd.DataFrame | None,
    symbols: dict[str, str],
    group_label: dict[tuple[str, str], str],
    source: str,
) -> str:
    rows = country_rows
    if EXPLOITATION in rows.columns:
        rows = rows[rows[EXPLOITATION] == TOTAL]
    groups = [(TOTAL, TOTAL), *SEX_AGE_GROUPS]
    columns = [group_label.get(g, f"{g[0]} {g[1]}") for g in groups]
    series_rows = []
    for year, by_year in rows.groupby(YEAR, sort=True):
        cells = {(r[SEX], r[AGE]): (r["value"], r["flag"]) for _, r in by_year.iterrows()}
        series_rows.append(
            [str(year)] + [_cell(*cells.get(g, (None, "")), symbols) for g in groups]
        )
    share_year, share_rows = _plain_share_rows(rows, region_shares, group_label)
    return profiles._TEMPLATE.render(
        name=name,
        iso3=iso3,
        region=region,
        scheme=scheme,
        series_columns=columns,
        series_rows=series_rows,
        share_year=share_year,
        share_rows=share_rows,
        symbols=" ".join(f"{s}: {f.replace('_', ' ')}." for f, s in symbols.items()),
        source=source,
    )


def _plain_share_rows(
    rows: pd.DataFrame, region_shares: pd.DataFrame | None, group_label: dict
) -> tuple[str, list[list[str]]]:
    parts = rows[rows[[SEX, AGE]].apply(tuple, axis=1).isin(SEX_AGE_GROUPS)]
    complete = parts.groupby(YEAR).filter(
        lambda g: len(g) == len(SEX_AGE_GROUPS) and (g["flag"] == OBSERVED).all()
    )
    years = sorted(set(complete[YEAR]))
    if region_shares is not None and len(region_shares):
        region_years = set(region_shares[YEAR])
        both = [y for y in years if y in region_years]
        year = both[-1] if both else max(region_years)
    else:
        year = years[-1] if years else None
    if year is None:
        return "no published shares", []
    mine = complete[complete[YEAR] == year]
    total = float(mine["value"].sum()) if len(mine) else 0.0
    out = []
    for group in SEX_AGE_GROUPS:
        own = mine[(mine[SEX] == group[0]) & (mine[AGE] == group[1])]["value"]
        own_share = _share(float(own.iloc[0]) / total) if len(own) and total > 0 else ""
        theirs = (
            region_shares[
                (region_shares[YEAR] == year)
                & (region_shares[SEX] == group[0])
                & (region_shares[AGE] == group[1])
            ]["share"]
            if region_shares is not None and len(region_shares)
            else pd.Series([])
        )
        out.append(
            [
                group_label.get(group, " ".join(group)),
                own_share,
                _share(theirs.iloc[0]) if len(theirs) else "",
            ]
        )
    return str(year), out


# --------------------------------------------------------------------------- generated marts


def generated_rows(seed: int, *, exploitation: bool = True) -> pd.DataFrame:
    """Published country rows with the awkward cases a mart can hold, mixed at random."""
    rng = np.random.default_rng(seed)
    forms = [TOTAL, "SEXUAL"] if exploitation else [TOTAL]
    rows = []
    for year in range(2005, 2005 + int(rng.integers(1, 12))):
        for form in forms:
            for sex, age in GROUPS:
                if rng.random() < 0.1:  # a group not published this year
                    continue
                flag = rng.choice([OBSERVED] * 6 + [SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY])
                value = None if flag != OBSERVED and rng.random() < 0.5 else rng.integers(0, 900)
                if flag == OBSERVED and rng.random() < 0.03:
                    flag = None  # a missing flag: skipped by all(), kept as a blank cell
                rows.append((year, sex, age, form, value, flag))
                if rng.random() < 0.03:  # a duplicated cell: the later row wins the series
                    rows.append((year, sex, age, form, rng.integers(0, 900), OBSERVED))
    frame = pd.DataFrame(rows, columns=[YEAR, SEX, AGE, EXPLOITATION, "value", "flag"])
    frame = frame.astype({YEAR: "int32", "value": "Int64", "flag": "string"})
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frame if exploitation else frame.drop(columns=[EXPLOITATION])


def generated_shares(seed: int, years: range) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1000)
    rows = [
        (year, sex, age, float(rng.random()))
        for year in years
        for sex, age in SEX_AGE_GROUPS
        if rng.random() > 0.05
    ]
    frame = pd.DataFrame(rows, columns=[YEAR, SEX, AGE, "share"])
    return frame.astype({YEAR: "int32", "share": "Float64"})


def both(rows: pd.DataFrame, shares: pd.DataFrame | None) -> tuple[str, str]:
    kwargs = dict(
        iso3="AUT",
        name="Austria <&>",
        region="Western and Southern Europe",
        scheme="GLOTIP",
        country_rows=rows,
        region_shares=shares,
        symbols=SYMBOLS,
        group_label=LABELS,
        source="Source: test.",
    )
    return country_profile(**kwargs), plain_profile(**kwargs)


@pytest.mark.parametrize("seed", range(40))
def test_same_html_as_row_wise_code_on_generated_marts(seed: int) -> None:
    rows = generated_rows(seed, exploitation=seed % 4 != 0)
    shares = {
        0: None,
        1: generated_shares(seed, range(2000, 2003)),  # no year in common with the country
        2: generated_shares(seed, range(2005, 2010)).iloc[0:0],  # empty
    }.get(seed % 5, generated_shares(seed, range(2005, 2020)))
    fast, plain = both(rows, shares)
    assert fast == plain


def test_same_html_when_nothing_is_complete_or_published() -> None:
    rows = generated_rows(3)
    suppressed = rows.assign(flag=pd.array([SUPPRESSED_PRIMARY] * len(rows), dtype="string"))
    fast, plain = both(suppressed, None)
    assert fast == plain
    assert "no published shares" in fast
    empty = rows.iloc[0:0]
    assert both(empty, None)[0] == both(empty, None)[1]


def test_generated_marts_exercise_the_share_table() -> None:
    """The comparison above would be weak if no generated case ever printed a share."""
    pages = [both(generated_rows(s), generated_shares(s, range(2005, 2020)))[0] for s in range(8)]
    assert sum("%</td>" in page for page in pages) >= 4
    assert all("<td>x</td>" in page or "<td>y</td>" in page for page in pages)


def test_same_html_when_a_flag_is_missing_in_the_latest_year() -> None:
    """A missing flag does not spoil its year in the row-wise code (``all()`` skips it)."""
    rows = pd.DataFrame(
        [
            (year, sex, age, 10 + i, OBSERVED if (year, i) != (2021, 2) else None)
            for year in (2020, 2021)
            for i, (sex, age) in enumerate(GROUPS)
        ],
        columns=[YEAR, SEX, AGE, "value", "flag"],
    ).astype({"value": "Int64", "flag": "string"})
    fast, plain = both(rows, None)
    assert fast == plain
    assert "2021: Austria" in fast


# ------------------------------------------------------------------ all countries in one pass


def _per_country(rows: pd.DataFrame, shares: pd.DataFrame, **common) -> dict[str, str]:
    """What exports built before ``country_profiles``: a groupby and a call per country."""
    pages = {}
    for iso3, mine in rows.groupby("country", sort=True):
        region = common["region_of"].get(iso3, "")
        pages[iso3] = country_profile(
            iso3=iso3,
            name=common["names"].get(iso3, iso3),
            region=common["region_name"].get(region, region or "no region"),
            scheme="GLOTIP",
            country_rows=mine,
            region_shares=shares[shares["region"] == region] if "region" in shares else shares,
            symbols=SYMBOLS,
            group_label=LABELS,
            source="Source: test.",
        )
    return pages


@pytest.mark.parametrize("exploitation", [True, False])
@pytest.mark.parametrize("by_region", [True, False])
def test_country_profiles_are_the_pages_made_one_country_at_a_time(
    exploitation: bool, by_region: bool
) -> None:
    countries = ["ZAF", "AUT", "BRA", "CHN", "DEU", "EGY"]
    rows = pd.concat(
        [
            generated_rows(seed, exploitation=exploitation).assign(country=iso3)
            for seed, iso3 in enumerate(countries)
        ],
        ignore_index=True,
    ).sample(frac=1.0, random_state=7)
    if exploitation:  # a country with only forms of exploitation gets an empty page
        rows.loc[rows["country"] == "EGY", EXPLOITATION] = "SEXUAL"
    rows["country"] = rows["country"].astype("str")
    rows.loc[rows.index[:3], "country"] = None  # rows without a country are left out
    shares = pd.concat(
        [
            generated_shares(seed, range(2005, 2020)).assign(region=region)
            for seed, region in enumerate(["EU", "AF", "AM"])
        ],
        ignore_index=True,
    )
    if not by_region:
        shares = shares.drop(columns=["region"])
    common = dict(
        names={"AUT": "Austria <&>", "BRA": "Brazil"},
        region_of={"AUT": "EU", "DEU": "EU", "ZAF": "AF", "EGY": "AF", "CHN": "AS"},
        region_name={"EU": "Europe", "AF": "Africa"},
    )
    fast = profiles.country_profiles(
        rows,
        shares,
        scheme="GLOTIP",
        symbols=SYMBOLS,
        group_label=LABELS,
        source="Source: test.",
        **common,
    )
    plain = _per_country(rows, shares, **common)
    assert list(fast) == list(plain) == sorted(countries)
    assert fast == plain
    assert sum("%</td>" in page for page in fast.values()) >= 2
