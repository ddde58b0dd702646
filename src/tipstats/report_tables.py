"""The Global Report tables, built from the marts with disclosure control applied (pure).

Each mart frame becomes one :class:`PublishedTable`: a frame sorted on its key, whose count
columns hold only publishable values, a ``flag`` per count, and the recovery-checker audit run on
the table as published. True values never leave this module: ``PublishedTable.frame`` has no
column holding a suppressed value, and derived columns (rates, shares, index) are blanked where
the count they come from is suppressed, since they would give it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tipstats import disclosure_parallel as parallel
from tipstats.columns import AGE, EXPLOITATION, INDICATOR, SEX, TOTAL, YEAR
from tipstats.disclosure import (
    DISPLAY,
    FLAG,
    PUBLISHED,
    SUPPRESSED,
    DisclosureConfig,
    audit,
    protect,
)
from tipstats.errors import TipstatsError

SCHEME = "scheme"
REGION = "region"
COUNTRY = "country"
SERIES = "series"
N_COUNTRIES = "n_countries"
SHARE = "share"
BASE_COUNTRIES = "base_countries"
BASE_PERSONS = "base_persons"
BASE_FLAG = "base_flag"
CATEGORY = "category"
SHARE_GROUP = "share_group"
# agg_shares_sex_age names the Report's four groups; their sex x age codes line the table up
# with the country table's cells (profiles compare the two) and with the code lists' labels.
SHARE_GROUPS = {
    "women": ("F", "Y_GE18"),
    "girls": ("F", "Y0T17"),
    "men": ("M", "Y_GE18"),
    "boys": ("M", "Y0T17"),
}

# Column names a mart may use for the same thing; the first is the one we publish.
ALIASES = {
    "value": ("value", "victims", "persons"),
    EXPLOITATION: ("exploitation", "form"),
    REGION: ("region", "region_code"),
    COUNTRY: ("country", "ref_area", "iso3"),
    SERIES: ("series", "sdg_series"),
    N_COUNTRIES: ("n_countries", "n_countries_reporting", "base_countries"),
    BASE_COUNTRIES: ("base_countries", "n_countries", "n_countries_reporting"),
    BASE_PERSONS: ("base_persons", "base_victims", "base_value", "base"),
    SHARE: ("share", "value_share"),
    "flow": ("flow", "flow_type"),
    "rollup": ("rollup", "level", "target"),
    "panel_size": ("panel_size", "n_panel_countries"),
    "index": ("index", "index_value"),
    "pct_change": ("pct_change", "percent_change", "change_pct"),
    "rate_per_100k": ("rate_per_100k", "rate"),
    "population": ("population", "population_reporting"),
}


# Columns computed from a count: published only where the count is.
DERIVED = (
    "share",
    "share_low",
    "share_high",
    "rate_per_100k",
    "value_low",
    "value_high",
    "persons_high",
    "victims_high",
    "censored_cells",
    "index",
    "pct_change",
)
# Computed from the base of a share: published only where the base is.
BASE_DERIVED = ("base_persons_high",)
# Counts of their own that no table protects (e.g. UNKNOWN form beside a share's base): left out.
UNPUBLISHED = ("unknown_persons",)
# Identifying columns first, in this order, then the rest as the mart has them.
LEADING = (
    SCHEME,
    REGION,
    "region_name",
    SERIES,
    COUNTRY,
    INDICATOR,
    "rollup",
    "base_year",
    "end_year",
    YEAR,
    SEX,
    AGE,
    EXPLOITATION,
    "flow",
)


class ExportError(TipstatsError):
    """A mart is missing or lacks a column an export needs."""


@dataclass
class PublishedTable:
    name: str
    title: str
    units: str
    notes: str
    frame: pd.DataFrame
    count_columns: tuple[str, ...]
    audit: pd.DataFrame = field(repr=False)
    kind: str = "counts"  # "counts": margins coded _T; "shares": parts of a base
    dimensions: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    at_least: tuple[str, ...] = ()  # dimensions whose parts do not add up to their total

    @property
    def n_exposed(self) -> int:
        return int(self.audit["exposed"].sum()) if len(self.audit) else 0


def normalise(mart: pd.DataFrame, name: str, required: Sequence[str]) -> pd.DataFrame:
    """Rename known aliases to our names; fail clearly when a required column is missing."""
    renames: dict[str, str] = {}
    for target, options in ALIASES.items():
        if target in mart.columns:
            continue
        for option in options:
            if option in mart.columns and option not in renames and option not in ALIASES:
                renames[option] = target
                break
    frame = mart.rename(columns=renames)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ExportError(
            f"mart {name} has no column {', '.join(missing)} "
            f"(it has: {', '.join(map(str, mart.columns))})"
        )
    return frame


def _present(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in frame.columns]


def _sorted(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    keys = _present(frame, keys)
    return frame.sort_values(keys, kind="mergesort", na_position="last").reset_index(drop=True)


def _exempt(frame: pd.DataFrame, column: str, config: DisclosureConfig) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    counts = pd.to_numeric(frame[column], errors="coerce").fillna(0).to_numpy()
    return counts >= config.min_countries


def _blank_where_hidden(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    # Only suppression blanks: a count not available (e.g. censored parts) keeps its bounds.
    hidden = frame[FLAG].isin(SUPPRESSED)
    out = frame.copy()
    for column in _present(frame, columns):
        out[column] = out[column].astype("Float64").mask(hidden)
    return out


def _withheld(exempt: np.ndarray | None) -> np.ndarray | None:
    """Aggregates pooling fewer than ``min_countries`` countries: hidden from the start.

    Such an aggregate is a country figure (or the sum of two) that the country table publishes
    with its own suppression pattern; published side by side, the two could be differenced.
    Hiding it costs nothing a reader cannot already get from the country table, and hiding it
    before the search (not after) lets the search protect the small counts around it at once.
    """
    return None if exempt is None else ~exempt


def _finish(frame: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Replace the true counts by the published ones; drop the display helper."""
    return frame.assign(**{value: frame[PUBLISHED]}).drop(columns=[PUBLISHED, DISPLAY])


# --------------------------------------------------------------------------- counts with margins


def protect_counts(
    mart: pd.DataFrame,
    *,
    dimensions: Sequence[str],
    keys: Sequence[str],
    config: DisclosureConfig,
    exempt_by: str | None,
    derived: Sequence[str] = (),
    at_least: Sequence[str] = (),
    workers: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Protect a count table with ``_T`` margins; returns (published frame, audit).

    A large table (the world's country table) is protected in chunks of whole sub-tables in
    ``workers`` processes (default: one per CPU; see ``disclosure_parallel``), with the same
    result; a small one in this process.
    """
    dims = _present(mart, dimensions)
    keys = _present(mart, keys)
    frame = _sorted(mart, [*keys, *dims])
    exempt = _exempt(frame, exempt_by, config) if exempt_by else None
    censored = frame["status"].eq("C").to_numpy() if "status" in frame.columns else None
    n_workers = parallel.worker_count(workers, len(frame)) if keys else 1
    chunks = (
        parallel.chunks_of(frame, keys, n_workers * parallel.CHUNKS_PER_WORKER)
        if n_workers > 1
        else []
    )
    if len(chunks) > 1:
        masks = parallel.Masks(exempt=exempt, censored=censored, withheld=_withheld(exempt))
        protected, result = parallel.protect_and_audit_in_pool(
            frame,
            dims,
            config,
            keys=keys,
            chunks=chunks,
            workers=n_workers,
            masks=masks,
            at_least=at_least,
        )
    else:
        protected = protect(
            frame,
            dims,
            config,
            keys=keys,
            exempt=exempt,
            censored=censored,
            withheld=_withheld(exempt),
            at_least=at_least,
        )
        result = audit(protected, dims, config, keys=keys, at_least=at_least)
    published = _finish(_blank_where_hidden(protected, derived))
    return published, result


# --------------------------------------------------------------------------- shares with a base


def protect_shares(
    mart: pd.DataFrame,
    *,
    categories: Sequence[str],
    keys: Sequence[str],
    config: DisclosureConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Protect pooled shares: each share times its base is a count a reader can rebuild.

    The parts (one per category) and the base form a one-level table ``base = sum of parts``;
    counts and base are protected together, then shares are blanked where their count is hidden.
    Rows whose base pools at least ``min_countries`` countries are exempt.
    """
    keys = _present(mart, keys)
    frame = _sorted(mart, [*keys, *categories])
    if BASE_COUNTRIES not in frame.columns and N_COUNTRIES in frame.columns:
        frame = frame.assign(**{BASE_COUNTRIES: frame[N_COUNTRIES]})
    if BASE_PERSONS not in frame.columns and "value" in frame.columns:
        # The base of a pooled share is the sum of its known categories.
        base = frame.groupby(keys, dropna=False)["value"].transform("sum")
        frame = frame.assign(**{BASE_PERSONS: base})
    if "value" in frame.columns:
        counts = pd.to_numeric(frame["value"], errors="coerce")
    else:
        counts = (
            pd.to_numeric(frame[SHARE], errors="coerce")
            * pd.to_numeric(frame[BASE_PERSONS], errors="coerce")
        ).round()
    # str.cat rather than a row-wise agg: an empty mart must give an empty label, not a frame
    label = pd.Series("", index=frame.index, dtype=object)
    for position, category in enumerate(categories):
        text = frame[category].astype(str)
        label = text if position == 0 else label.str.cat(text, sep="|")
    parts = frame[keys].assign(**{CATEGORY: label, "value": counts})
    parts[BASE_COUNTRIES] = frame[BASE_COUNTRIES] if BASE_COUNTRIES in frame.columns else 0
    bases = frame.drop_duplicates(keys)[[*keys]].copy()
    first = frame.drop_duplicates(keys).reset_index(drop=True)
    bases[CATEGORY] = TOTAL
    bases["value"] = pd.to_numeric(first[BASE_PERSONS], errors="coerce").to_numpy()
    bases[BASE_COUNTRIES] = (
        first[BASE_COUNTRIES].to_numpy() if BASE_COUNTRIES in first.columns else 0
    )
    table = pd.concat([parts, bases], ignore_index=True)
    table = _sorted(table, [*keys, CATEGORY])
    exempt = _exempt(table, BASE_COUNTRIES, config)
    protected = protect(
        table,
        [CATEGORY],
        config,
        keys=keys,
        exempt=exempt,
        withheld=_withheld(exempt),
    )
    result = audit(protected, [CATEGORY], config, keys=keys)

    base_rows = protected[protected[CATEGORY] == TOTAL]
    part_rows = protected[protected[CATEGORY] != TOTAL]
    base_view = base_rows[[*keys, PUBLISHED, FLAG]].rename(
        columns={PUBLISHED: BASE_PERSONS, FLAG: BASE_FLAG}
    )
    merged = frame.drop(columns=_present(frame, ["value", BASE_PERSONS])).assign(
        **{CATEGORY: label}
    )
    merged = merged.merge(
        part_rows[[*keys, CATEGORY, PUBLISHED, FLAG]], on=[*keys, CATEGORY], how="left"
    ).merge(base_view, on=keys, how="left")
    merged = merged.rename(columns={PUBLISHED: "value"}).drop(columns=[CATEGORY])
    merged = _blank_where_hidden(merged, DERIVED)
    base_hidden = merged[BASE_FLAG].isin(SUPPRESSED)
    for column in _present(merged, BASE_DERIVED):
        merged[column] = merged[column].astype("Float64").mask(base_hidden)
    return _sorted(merged, [*keys, *categories]), result


# --------------------------------------------------------------------------- the report tables


def one_way(frame: pd.DataFrame, dimensions: Sequence[str]) -> pd.DataFrame:
    """The totals and the breakdowns by one dimension at a time (the others at ``_T``)."""
    dims = _present(frame, dimensions)
    if not dims:
        return frame
    broken_down = (frame[dims] != TOTAL).sum(axis=1)
    return frame[broken_down <= 1]


def regional_totals(mart: pd.DataFrame, config: DisclosureConfig) -> PublishedTable:
    frame = normalise(mart, "agg_totals", [SCHEME, REGION, YEAR, INDICATOR, "value"])
    # The Report's regional table breaks totals down by one dimension at a time; the sex x age
    # cross is the shares table. Crossed cells of a few countries would only be withheld, and
    # protecting the full cube costs minutes instead of seconds.
    frame = one_way(frame, [SEX, AGE, EXPLOITATION])
    if {"value_low", "value_high"} <= set(frame.columns):
        # A sum over censored (<5) cells is known only within its bounds: publishing the sum of
        # the known cells as the value would be an invented number, and a reader taking it for
        # exact could solve the table for a hidden neighbour. The bounds are published instead.
        censored = frame["value_low"].ne(frame["value_high"]) & frame["value_high"].notna()
        frame = frame.assign(value=frame["value"].mask(censored))
    published, result = protect_counts(
        frame,
        dimensions=[SEX, AGE, EXPLOITATION],
        keys=[SCHEME, REGION, YEAR, INDICATOR],
        config=config,
        exempt_by=N_COUNTRIES,
        derived=DERIVED,
    )
    return PublishedTable(
        name="regional_totals",
        title="Detected victims and persons in the justice system, by region and year",
        units="Persons (counts); rate per 100,000 population of the reporting countries",
        notes=(
            "Totals are sums over the countries that reported the cell (no imputation); "
            "n_countries and population_coverage_share give the coverage. Totals are broken "
            "down by one of sex, age and form at a time. Aggregates pooling "
            f"fewer than {config.min_countries} countries are hidden (flag suppressed_secondary):"
            " the country table holds those figures, protected."
        ),
        frame=published,
        count_columns=("value",),
        audit=result,
        dimensions=(SEX, AGE, EXPLOITATION),
        keys=(SCHEME, REGION, YEAR, INDICATOR),
    )


def with_sex_age(mart: pd.DataFrame) -> pd.DataFrame:
    """Add ``sex`` and ``age`` codes to a mart that names the Report's four groups."""
    if SHARE_GROUP not in mart.columns or (SEX in mart.columns and AGE in mart.columns):
        return mart
    unknown = sorted(set(mart[SHARE_GROUP].dropna().astype(str)) - set(SHARE_GROUPS))
    if unknown:
        raise ExportError(
            f"mart agg_shares_sex_age has share_group {', '.join(unknown)}; "
            f"known: {', '.join(SHARE_GROUPS)}"
        )
    codes = mart[SHARE_GROUP].astype(str).map(SHARE_GROUPS)
    position = list(mart.columns).index(SHARE_GROUP)
    out = mart.copy()
    out.insert(position, AGE, codes.str[1])
    out.insert(position, SEX, codes.str[0])
    return out


def shares_sex_age(mart: pd.DataFrame, config: DisclosureConfig) -> PublishedTable:
    frame = normalise(
        with_sex_age(mart), "agg_shares_sex_age", [SCHEME, REGION, YEAR, SEX, AGE, SHARE]
    )
    published, result = protect_shares(
        frame,
        categories=[SEX, AGE],
        keys=[SCHEME, REGION, YEAR, INDICATOR],
        config=config,
    )
    return PublishedTable(
        name="shares_sex_age",
        title="Share of women, girls, men and boys among detected victims, by region",
        units="Share of persons with known sex and age (0-1); base in persons and countries",
        notes=(
            "Pooled counts over the countries reporting the sex x age breakdown, divided by "
            "the persons of known sex and age. base_countries and base_persons are the base."
        ),
        frame=published,
        count_columns=("value", BASE_PERSONS),
        audit=result,
        kind="shares",
        dimensions=(SEX, AGE),
        keys=(SCHEME, REGION, YEAR, INDICATOR),
    )


def shares_exploitation(mart: pd.DataFrame, config: DisclosureConfig) -> PublishedTable:
    frame = normalise(mart, "agg_shares_exploitation", [SCHEME, REGION, YEAR, EXPLOITATION, SHARE])
    published, result = protect_shares(
        frame,
        categories=[EXPLOITATION],
        keys=[SCHEME, REGION, YEAR, INDICATOR, "rollup"],
        config=config,
    )
    return PublishedTable(
        name="shares_exploitation",
        title="Share of detected victims by form of exploitation, by region",
        units="Share of victims with known form (0-1); base in persons and countries",
        notes=(
            "Pooled counts over the countries reporting forms of exploitation; 'rollup' names "
            "the code list (detailed, dataUNODC 3-way, SDG 4-way)."
        ),
        frame=published,
        count_columns=("value", BASE_PERSONS),
        audit=result,
        kind="shares",
        dimensions=(EXPLOITATION,),
        keys=(SCHEME, REGION, YEAR, INDICATOR, "rollup"),
    )


def flows(mart: pd.DataFrame, config: DisclosureConfig) -> PublishedTable:
    frame = normalise(mart, "agg_flows", [SCHEME, REGION, YEAR, "flow", "value"])
    if BASE_PERSONS not in frame.columns:
        # The shares of a flow table give its base away; publish it explicitly.
        keys = _present(frame, [SCHEME, REGION, YEAR, INDICATOR])
        frame = frame.assign(
            **{BASE_PERSONS: frame.groupby(keys, dropna=False)["value"].transform("sum")}
        )
    if SHARE not in frame.columns:
        frame = frame.assign(**{SHARE: frame["value"] / frame[BASE_PERSONS]})
    if BASE_COUNTRIES not in frame.columns and N_COUNTRIES in frame.columns:
        # Countries behind each flow, not behind the base: the largest is a lower bound of the
        # countries pooled in the base, so the exemption of 3 or more countries stays safe.
        keys = _present(frame, [SCHEME, REGION, YEAR, INDICATOR])
        frame = frame.assign(
            **{BASE_COUNTRIES: frame.groupby(keys, dropna=False)[N_COUNTRIES].transform("max")}
        )
    published, result = protect_shares(
        frame, categories=["flow"], keys=[SCHEME, REGION, YEAR, INDICATOR], config=config
    )
    return PublishedTable(
        name="flows",
        title="Detected victims by flow: domestic, within sub-region, within region, transregional",
        units="Persons (counts) and share of victims with known citizenship (0-1)",
        notes="Flows compare the victim's citizenship with the detecting country.",
        frame=published,
        count_columns=("value", BASE_PERSONS),
        audit=result,
        kind="shares",
        dimensions=("flow",),
        keys=(SCHEME, REGION, YEAR, INDICATOR),
    )


def trends(mart: pd.DataFrame, config: DisclosureConfig) -> PublishedTable:
    frame = normalise(mart, "agg_trends", [SCHEME, REGION, YEAR, "value"])
    if "panel_countries" in frame.columns:
        frame = frame.assign(panel_countries=frame["panel_countries"].map(_as_text))
    published, result = protect_counts(
        frame,
        dimensions=[],
        keys=[SCHEME, REGION, INDICATOR, "base_year", "end_year", YEAR],
        config=config,
        exempt_by="panel_size",
        derived=DERIVED,
    )
    return PublishedTable(
        name="trends",
        title="Detected victims over a fixed panel of countries: index and percentage change",
        units="Persons (counts); index (base year = 100); percentage change",
        notes=(
            "Only countries reporting in every year compared enter the panel; panel_size and "
            "panel_countries name them."
        ),
        frame=published,
        count_columns=("value",),
        audit=result,
        keys=(SCHEME, REGION, INDICATOR, "base_year", "end_year", YEAR),
    )


def country_table(mart: pd.DataFrame, config: DisclosureConfig) -> PublishedTable:
    frame = normalise(mart, "sdg_16_2_2", [COUNTRY, YEAR, "value"])
    # Series split the total by form: when the form is a column, the forms add up to the
    # total across series, so protect each country-year as one table.
    keys = [COUNTRY, YEAR] if EXPLOITATION in frame.columns else [SERIES, COUNTRY, YEAR]
    # The SDG series leave out the victims of unknown form: the forms need not add up to the
    # total, and a reader who knows the series definitions knows it.
    at_least = (EXPLOITATION,) if EXPLOITATION in frame.columns else ()
    published, result = protect_counts(
        frame,
        dimensions=[SEX, AGE, EXPLOITATION],
        keys=keys,
        config=config,
        exempt_by=None,
        derived=DERIVED,
        at_least=at_least,
    )
    published = _sorted(published, [SERIES, COUNTRY, YEAR, SEX, AGE, EXPLOITATION])
    return PublishedTable(
        name="country_table",
        title="Detected victims of trafficking by country (SDG indicator 16.2.2)",
        units="Persons (counts); rate per 100,000 population",
        notes=(
            "Country figures are always protected: counts from 1 to "
            f"{config.threshold - 1} are shown as {config.primary_symbol}, and enough "
            "further cells are hidden that no hidden count can be derived from totals."
        ),
        frame=published,
        count_columns=("value",),
        audit=result,
        dimensions=(SEX, AGE, EXPLOITATION),
        keys=tuple(keys),
        at_least=at_least,
    )


# The report table each mart becomes (sheet, CSV and Parquet name).
TABLE_OF = {
    "agg_totals": "regional_totals",
    "agg_shares_sex_age": "shares_sex_age",
    "agg_shares_exploitation": "shares_exploitation",
    "agg_flows": "flows",
    "agg_trends": "trends",
    "sdg_16_2_2": "country_table",
}

BUILDERS = {
    "agg_totals": regional_totals,
    "agg_shares_sex_age": shares_sex_age,
    "agg_shares_exploitation": shares_exploitation,
    "agg_flows": flows,
    "agg_trends": trends,
    "sdg_16_2_2": country_table,
}


def missing_marts(marts: Mapping[str, pd.DataFrame | None]) -> list[str]:
    """The report marts the warehouse does not (yet) hold, in report order."""
    return [name for name in BUILDERS if marts.get(name) is None]


def build_report_tables(
    marts: Mapping[str, pd.DataFrame | None], config: DisclosureConfig
) -> list[PublishedTable]:
    """Every report table whose mart is present; none at all is a clear error.

    A missing mart is skipped (the caller says so in its notes): a warehouse built before a mart
    existed still exports everything else.
    """
    present = {name: marts[name] for name in BUILDERS if marts.get(name) is not None}
    if not present:
        raise ExportError(
            f"the warehouse has none of the marts {', '.join(BUILDERS)}: run `tipstats build` first"
        )
    tables = [
        BUILDERS[name](mart.drop(columns=_present(mart, UNPUBLISHED)), config)
        for name, mart in present.items()
    ]
    for table in tables:
        leading = _present(table.frame, LEADING)
        rest = [c for c in table.frame.columns if c not in leading]
        table.frame = table.frame[[*leading, *rest]]
    return tables


def audit_published(table: PublishedTable, config: DisclosureConfig) -> pd.DataFrame:
    """The recovery checker run on a table as a reader sees it (no true values at all).

    Every ``total = sum of parts`` relation is assumed exact, as a reader would; for share
    tables the parts are the published counts and the total their published base.
    """
    frame = table.frame
    keys = _present(frame, table.keys)
    dims = _present(frame, table.dimensions)
    if table.kind == "counts":
        return audit(
            frame.rename(columns={"value": PUBLISHED}),
            dims,
            config,
            keys=keys,
            at_least=table.at_least,
        )
    label = frame[dims].astype(str).agg("|".join, axis=1)
    parts = frame[keys].assign(**{CATEGORY: label, PUBLISHED: frame["value"], FLAG: frame[FLAG]})
    first = frame.drop_duplicates(keys)
    bases = first[keys].assign(
        **{CATEGORY: TOTAL, PUBLISHED: first[BASE_PERSONS], FLAG: first[BASE_FLAG]}
    )
    return audit(pd.concat([parts, bases], ignore_index=True), [CATEGORY], config, keys=keys)


def _as_text(value: object) -> str:
    if isinstance(value, list | tuple | np.ndarray):
        return " ".join(sorted(map(str, value)))
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


__all__ = [
    "BUILDERS",
    "audit_published",
    "ExportError",
    "PublishedTable",
    "build_report_tables",
    "missing_marts",
    "TABLE_OF",
]
