"""One-page country profiles (pure): published tables in, a self-contained HTML page out.

Everything inserted is escaped (jinja2 autoescape); the page links to nothing outside itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

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


class _Columns:
    """Rows as plain column lists: selecting rows with pandas per country cost seconds."""

    def __init__(self, lists: dict[str, list]) -> None:
        self.lists = lists

    @classmethod
    def of(cls, frame: pd.DataFrame, names: Sequence[str]) -> _Columns:
        return cls({name: frame[name].tolist() for name in names})

    def __getitem__(self, name: str) -> list:
        return self.lists[name]

    def __len__(self) -> int:
        return len(next(iter(self.lists.values()), []))

    def take(self, positions: Sequence[int]) -> _Columns:
        return _Columns({k: [v[i] for i in positions] for k, v in self.lists.items()})

    def where(self, keep: Sequence[bool]) -> _Columns:
        return self.take([i for i, k in enumerate(keep) if k])


_ROW_COLUMNS = (YEAR, SEX, AGE, "value", "flag")
_SHARE_COLUMNS = (YEAR, SEX, AGE, "share")


def country_profile(
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
    """The HTML page of one country from its published rows and its region's published shares.

    ``country_rows``: published country-table rows of this country (``year, sex, age, value,
    flag`` and optionally ``exploitation``); ``region_shares``: published sex x age shares of
    its region (``year, sex, age, share``).
    """
    rows = country_rows
    if EXPLOITATION in rows.columns:
        rows = rows[rows[EXPLOITATION] == TOTAL]
    shares = _Columns.of(region_shares, _SHARE_COLUMNS) if region_shares is not None else None
    return _page(
        iso3=iso3,
        name=name,
        region=region,
        scheme=scheme,
        rows=_Columns.of(rows, _ROW_COLUMNS),
        region_shares=shares,
        symbols=symbols,
        group_label=group_label,
        source=source,
    )


def country_profiles(
    country_rows: pd.DataFrame,
    region_shares: pd.DataFrame,
    *,
    names: Mapping[str, str],
    region_of: Mapping[str, str],
    region_name: Mapping[str, str],
    scheme: str,
    symbols: dict[str, str],
    group_label: dict[tuple[str, str], str],
    source: str,
) -> dict[str, str]:
    """The page of every country of ``country_rows`` (ISO3 -> HTML, in ISO3 order).

    The same pages as ``country_profile`` called per country with its rows and the shares of
    its region (all of ``region_shares`` when it has no ``region`` column), read from the
    columns once instead of selecting rows with pandas 200 times.
    """
    keep = None
    if EXPLOITATION in country_rows.columns:
        keep = (country_rows[EXPLOITATION] == TOTAL).fillna(False).to_numpy(dtype=bool)
    countries = country_rows["country"].tolist()
    rows = _Columns.of(country_rows, _ROW_COLUMNS)
    positions: dict[object, list[int]] = {}
    for i, country in enumerate(countries):
        if not pd.isna(country) and (keep is None or keep[i]):
            positions.setdefault(country, []).append(i)
    # A country whose rows are all forms of exploitation still gets its (empty) page.
    for country in countries:
        if not pd.isna(country):
            positions.setdefault(country, [])
    shares = _Columns.of(region_shares, _SHARE_COLUMNS)
    by_region: dict[object, list[int]] | None = None
    if "region" in region_shares.columns:
        by_region = {}
        for i, region in enumerate(region_shares["region"].tolist()):
            by_region.setdefault(region, []).append(i)
    pages = {}
    for iso3 in sorted(positions):
        region = region_of.get(iso3, "")
        mine = shares if by_region is None else shares.take(by_region.get(region, []))
        pages[str(iso3)] = _page(
            iso3=str(iso3),
            name=names.get(iso3, str(iso3)),
            region=region_name.get(region, region or "no region"),
            scheme=scheme,
            rows=rows.take(positions[iso3]),
            region_shares=mine,
            symbols=symbols,
            group_label=group_label,
            source=source,
        )
    return pages


def _page(
    *,
    iso3: str,
    name: str,
    region: str,
    scheme: str,
    rows: _Columns,
    region_shares: _Columns | None,
    symbols: dict[str, str],
    group_label: dict[tuple[str, str], str],
    source: str,
) -> str:
    groups = [(TOTAL, TOTAL), *SEX_AGE_GROUPS]
    columns = [group_label.get(g, f"{g[0]} {g[1]}") for g in groups]
    # Later rows win.
    cells_of: dict[object, dict[tuple[object, object], tuple[object, object]]] = {}
    for year, sex, age, value, flag in zip(*(rows[c] for c in _ROW_COLUMNS), strict=True):
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
    rows: _Columns, region_shares: _Columns | None, group_label: dict[tuple[str, str], str]
) -> tuple[str, list[list[str]]]:
    """Country shares from its published counts (only when all four are published)."""
    wanted = set(SEX_AGE_GROUPS)
    parts = rows.where([pair in wanted for pair in zip(rows[SEX], rows[AGE], strict=True)])
    complete = parts.where(_complete_years(parts))
    years = sorted(set(complete[YEAR]))
    if region_shares is not None and len(region_shares):
        region_years = set(region_shares[YEAR])
        both = [y for y in years if y in region_years]
        year = both[-1] if both else max(region_years)
    else:
        year = years[-1] if years else None
    if year is None:
        return "no published shares", []
    mine = complete.where([y == year for y in complete[YEAR]])
    # As Series.sum(): missing values skipped.
    total = float(sum(v for v in mine["value"] if not pd.isna(v))) if len(mine) else 0.0
    own = _first_of_group(mine, "value")
    theirs = (
        _first_of_group(region_shares.where([y == year for y in region_shares[YEAR]]), "share")
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


def _complete_years(parts: _Columns) -> list[bool]:
    """Which rows have a year with exactly the four groups, all observed.

    Same rule as a ``groupby(year).filter``: a missing flag is skipped by ``all()`` (so it does
    not spoil its year) and rows without a year are dropped.
    """
    years = parts[YEAR]
    size: Counter[object] = Counter()
    spoiled: set[object] = set()
    for year, flag in zip(years, parts["flag"], strict=True):
        if pd.isna(year):
            continue
        size[year] += 1
        if not (pd.isna(flag) or flag == OBSERVED):
            spoiled.add(year)
    return [not pd.isna(y) and size[y] == len(SEX_AGE_GROUPS) and y not in spoiled for y in years]


def _first_of_group(rows: _Columns, column: str) -> dict[tuple[object, object], object]:
    """``column`` of the first row of each (sex, age), as a boolean filter and ``iloc[0]`` give."""
    first: dict[tuple[object, object], object] = {}
    for sex, age, value in zip(rows[SEX], rows[AGE], rows[column], strict=True):
        first.setdefault((sex, age), value)
    return first
