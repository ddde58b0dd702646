"""One-page country profiles (pure): published tables in, a self-contained HTML page out.

Everything inserted is escaped (jinja2 autoescape); the page links to nothing outside itself.
"""

from __future__ import annotations

import jinja2
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
