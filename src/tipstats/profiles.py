"""One-page country profiles (pure): published tables in, a self-contained HTML page out.

Everything inserted is escaped (jinja2 autoescape); the page links to nothing outside itself.
"""

from __future__ import annotations

from collections import Counter

import jinja2
import numpy as np
import pandas as pd

from tipstats.columns import AGE, EXPLOITATION, SEX, TOTAL, YEAR
from tipstats.disclosure import OBSERVED

_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ name }} - detected victims of trafficking</title>
<style>
body{font-family:sans-serif;max-width:48em;margin:1.5em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}
th,td{border:1px solid #bbb;padding:.2em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
caption{text-align:left;font-weight:bold;padding:.3em 0}
.note{font-size:.85em;color:#555}
</style></head><body>
<h1>{{ name }} <small>({{ iso3 }})</small></h1>
<p>Region: {{ region }} ({{ scheme }} regions).</p>
<table><caption>Detected victims by year</caption>
<tr><th>Year</th>{% for c in series_columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in series_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<table><caption>Shares by sex and age, {{ share_year }}: {{ name }} against {{ region }}</caption>
<tr><th>Group</th><th>{{ name }}</th><th>{{ region }}</th></tr>
{% for row in share_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p class="note">{{ symbols }} Shares are over victims of known sex and age. {{ source }}</p>
</body></html>
"""
)

SEX_AGE_GROUPS = (("F", "Y_GE18"), ("F", "Y0T17"), ("M", "Y_GE18"), ("M", "Y0T17"))


def _cell(value: object, flag: str, symbols: dict[str, str]) -> str:
    if flag in symbols:
        return symbols[flag]
    if value is None or pd.isna(value):
        return ""
    return f"{int(value):,}"


def _share(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):.0%}"


def country_profile(
    *,
    iso3: str,
    name: str,
    region: str,
    scheme: str,
    country_rows: pd.DataFrame,
    region_shares: pd.DataFrame,
    symbols: dict[str, str],
    group_label: dict[tuple[str, str], str],
    source: str,
) -> str:
    """The HTML page of one country from its published rows and its region's published shares.

    ``country_rows``: published country-table rows of this country (``year, sex, age, value,
    flag`` and optionally ``exploitation``); ``region_shares``: published sex x age shares of
    its region (``year, sex, age, share``).
    """
    # Only the columns used: every row selection below copies all the columns it is given.
    used = [YEAR, SEX, AGE, "value", "flag"]
    rows = country_rows[[*used, EXPLOITATION] if EXPLOITATION in country_rows else used]
    if EXPLOITATION in rows.columns:
        rows = rows[rows[EXPLOITATION] == TOTAL]
    groups = [(TOTAL, TOTAL), *SEX_AGE_GROUPS]
    columns = [group_label.get(g, f"{g[0]} {g[1]}") for g in groups]
    # One pass over plain column lists: row-wise pandas access (iterrows per year) made the
    # 200 profiles of a world export cost seconds. Later rows win, as before.
    cells_of: dict[object, dict[tuple[object, object], tuple[object, object]]] = {}
    for year, sex, age, value, flag in zip(
        rows[YEAR].tolist(),
        rows[SEX].tolist(),
        rows[AGE].tolist(),
        rows["value"].tolist(),
        rows["flag"].tolist(),
        strict=True,
    ):
        if not pd.isna(year):  # groupby drops missing years; so do we
            cells_of.setdefault(year, {})[(sex, age)] = (value, flag)
    series_rows = [
        [str(year)] + [_cell(*cells_of[year].get(g, (None, "")), symbols) for g in groups]
        for year in sorted(cells_of)
    ]
    share_year, share_rows = _share_rows(rows, region_shares, group_label)
    return _TEMPLATE.render(
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


def _share_rows(
    rows: pd.DataFrame, region_shares: pd.DataFrame, group_label: dict[tuple[str, str], str]
) -> tuple[str, list[list[str]]]:
    """Country shares from its published counts (only when all four are published)."""
    wanted = set(SEX_AGE_GROUPS)
    pairs = zip(rows[SEX].tolist(), rows[AGE].tolist(), strict=True)
    in_groups = [pair in wanted for pair in pairs]
    parts = rows[np.array(in_groups, dtype=bool)]
    complete = parts[_complete_years(parts)]
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
    own = _first_of_group(mine, "value")
    theirs = (
        _first_of_group(region_shares[region_shares[YEAR] == year], "share")
        if region_shares is not None and len(region_shares)
        else {}
    )
    out = []
    for group in SEX_AGE_GROUPS:
        own_share = _share(float(own[group]) / total) if group in own and total > 0 else ""
        out.append(
            [
                group_label.get(group, " ".join(group)),
                own_share,
                _share(theirs[group]) if group in theirs else "",
            ]
        )
    return str(year), out


def _complete_years(parts: pd.DataFrame) -> np.ndarray:
    """Mask of the rows whose year has exactly the four groups, all observed.

    Same rule as a ``groupby(year).filter``: a missing flag is skipped by ``all()`` (so it does
    not spoil its year) and rows without a year are dropped.
    """
    observed = (parts["flag"] == OBSERVED).fillna(True).tolist()
    years = parts[YEAR].tolist()
    size: Counter[object] = Counter()
    spoiled: set[object] = set()
    for year, ok in zip(years, observed, strict=True):
        if pd.isna(year):
            continue
        size[year] += 1
        if not ok:
            spoiled.add(year)
    keep = [not pd.isna(y) and size[y] == len(SEX_AGE_GROUPS) and y not in spoiled for y in years]
    return np.array(keep, dtype=bool)


def _first_of_group(frame: pd.DataFrame, column: str) -> dict[tuple[object, object], object]:
    """``column`` of the first row of each (sex, age), as a boolean filter and ``iloc[0]`` give."""
    first: dict[tuple[object, object], object] = {}
    for sex, age, value in zip(
        frame[SEX].tolist(), frame[AGE].tolist(), frame[column].tolist(), strict=True
    ):
        first.setdefault((sex, age), value)
    return first
