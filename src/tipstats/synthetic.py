"""Synthetic national submissions (pure): realistic, internally consistent, at any scale.

Used for the bundled samples, the tests and the benchmark workload. Everything is drawn from a
seeded ``numpy.random.Generator``; codes come from the code lists and the composition from a
profile (``data/samples/generator/profile.toml``), so no category is written in this module.

How a country's numbers are built, so that every identity holds by construction:
- a level of detected victims scaled to population (a log-normal rate per 100,000), moved year
  to year by a bounded AR(1) on the log scale (changes stay below the plausibility threshold);
- one joint composition over sex x age x form of exploitation (with UNKNOWN parts), drawn around
  the profile; each year's total is split over the joint cells by largest remainders, and every
  total and margin (``_T``) is a sum of those cells: parts + UNKNOWN = total exactly;
- citizenship (NATIONALS, FOREIGN, UNKNOWN) splits the same total; a few named foreign
  citizenships (ISO3) split part of FOREIGN, so they never exceed it;
- persons prosecuted and convicted follow the victims' trend, broken down by sex.
Cells expected below ``minimum_expected_cell`` persons are structural zeros, so small series do
not flicker between 0 and 1 and set off the warehouse's "drop to zero" warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tipstats import columns as C
from tipstats.codelists import CodeLists
from tipstats.errors import UsageError
from tipstats.harmonize import CENSORED_UPPER

GLOTIP = "GLOTIP"
CENSORED_TEXT = f"<{CENSORED_UPPER + 1}"
LANGUAGES = ("en", "fr", "es")


@dataclass(frozen=True)
class Profile:
    """The generator's parameters (read from the profile TOML by ``tipstats.sample_files``)."""

    data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def codes_used(self) -> list[tuple[str, str]]:
        """Every (dimension, code) the profile names, for checking against the code lists."""
        victims, used = self["victims"], []
        used += [(C.STATUS, code) for code in self["status"].values()]
        used += [(C.INDICATOR, victims["indicator"]), (C.SOURCE, victims["source"])]
        for sex, ages in victims["sex_age"].items():
            used += [(C.SEX, sex)] + [(C.AGE, age) for age in ages]
        for forms in victims["exploitation"].values():
            used += [(C.EXPLOITATION, form) for form in forms]
        used += [(C.CITIZENSHIP, code) for code in victims["citizenship"]]
        used += [(C.CITIZENSHIP, self["foreign"]["split_of"])]
        for offender in self["offenders"]:
            used += [(C.INDICATOR, offender["indicator"]), (C.SOURCE, offender["source"])]
            used += [(C.SEX, sex) for sex in offender["sex"]]
        return used


def check_profile(profile: Profile, codelists: CodeLists) -> None:
    """Refuse a profile that names a code the code lists do not have."""
    for dimension, code in profile.codes_used():
        if code not in codelists.codes(dimension):
            raise UsageError(f"the generator profile names {dimension} `{code}`, not a code")
    target = profile["breakdowns"]["coarse_target"]
    if target not in set(codelists.rollups["target"]):
        raise UsageError(f"the generator profile names roll-up target `{target}`, not in rollups")


# --- which countries ----------------------------------------------------------------------------
def eligible_countries(codelists: CodeLists) -> pd.DataFrame:
    """Countries with a population and a GLOTIP region: iso3, region, population (latest)."""
    regions = codelists.region_members
    regions = regions.loc[regions["scheme"] == GLOTIP, ["iso3", "region_code"]]
    latest = codelists.population.sort_values("year").groupby("iso3").tail(1)
    frame = regions.merge(latest[["iso3", "population"]], on="iso3")
    frame = frame[frame["population"] > 0]
    return frame.sort_values("iso3").reset_index(drop=True)


def choose_countries(codelists: CodeLists, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` countries stratified over the GLOTIP regions: every region gets one before any
    gets two, the rest in proportion to region size; larger countries are likelier."""
    pool = eligible_countries(codelists)
    if not 1 <= n <= len(pool):
        raise UsageError(f"--countries must be between 1 and {len(pool)}, got {n}")
    sizes = pool.groupby("region_code").size().sort_index()
    quota = pd.Series(0, index=sizes.index)
    if n < len(sizes):
        quota[rng.choice(sizes.index.to_numpy(), size=n, replace=False)] = 1
    else:
        quota[:] = 1
        extra = (n - len(sizes)) * (sizes - 1) / (sizes - 1).sum()
        quota += np.floor(extra).astype(int)
        order = (extra - np.floor(extra)).sort_values(ascending=False, kind="stable").index
        for region in order[: n - int(quota.sum())]:
            quota[region] += 1
    chosen: list[str] = []
    for region, k in quota.items():
        members = pool[pool["region_code"] == region]
        weight = np.sqrt(members["population"].to_numpy(dtype=float))
        picked = rng.choice(
            members["iso3"].to_numpy(), size=k, replace=False, p=weight / weight.sum()
        )
        chosen += list(picked)
    return sorted(chosen)


def resolve_countries(codelists: CodeLists, names: list[str]) -> list[str]:
    """ISO3 codes for names or codes given on the command line (each must have a population)."""
    pool = set(eligible_countries(codelists)["iso3"])
    resolved = []
    for name in names:
        iso3 = codelists.country_iso3(name)
        if iso3 is None or iso3 not in pool:
            raise UsageError(f"`{name}` is not a country with population data")
        resolved.append(iso3)
    return sorted(dict.fromkeys(resolved))


# --- numbers ------------------------------------------------------------------------------------
def largest_remainder(totals: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Split each total (shape ``(n,)``) over cells (``(n, k)`` shares summing to 1) into
    integers that add up to the total exactly."""
    exact = totals[:, None] * shares
    counts = np.floor(exact).astype(np.int64)
    missing = totals - counts.sum(axis=1)
    order = np.argsort(-(exact - counts), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(shares.shape[1])[None, :], axis=1)
    return counts + (ranks < missing[:, None])


def _trend(rng: np.random.Generator, n_years: int, trend: dict[str, float]) -> np.ndarray:
    level = np.empty(n_years)
    current = rng.uniform(-trend["band"], trend["band"]) / 2
    for i in range(n_years):
        if i:
            step = rng.normal(0.0, trend["step_sigma"]) - (1 - trend["persistence"]) * current
            step = np.clip(step, -trend["max_step"], trend["max_step"])
            current = float(np.clip(current + step, -trend["band"], trend["band"]))
        level[i] = current
    return level


def _drifted(
    rng: np.random.Generator, shares: np.ndarray, n_years: int, drift: float
) -> np.ndarray:
    wobble = shares[None, :] * np.exp(rng.normal(0.0, drift, size=(n_years, shares.size)))
    return wobble / wobble.sum(axis=1, keepdims=True)


def _without_tiny_cells(shares: np.ndarray, total: float, minimum: float) -> np.ndarray:
    keep = shares * total >= minimum
    keep[np.argmax(shares)] = True
    kept = np.where(keep, shares, 0.0)
    return kept / kept.sum()


def _with_unknown(matrix: np.ndarray, axis: int, share: float) -> np.ndarray:
    """Move ``share`` of every slice along ``axis`` into a new last UNKNOWN category."""
    known = np.moveaxis(matrix, axis, -1)
    out = np.concatenate([known * (1 - share), known.sum(axis=-1, keepdims=True) * share], -1)
    return np.moveaxis(out, -1, axis)


def _with_totals(cube: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Prepend the sum along each axis (the ``_T`` category comes first)."""
    for axis in axes:
        cube = np.concatenate([cube.sum(axis=axis, keepdims=True), cube], axis=axis)
    return cube


@dataclass(frozen=True)
class _Country:
    iso3: str
    region: str
    censors: bool
    unknown: dict[str, float]
    coarse: bool


def synthetic_submissions(
    codelists: CodeLists,
    profile: Profile,
    countries: int | list[str],
    years: list[int],
    seed: int,
) -> pd.DataFrame:
    """Template-layout rows (``TEMPLATE_COLUMNS``, all text, codes) for every country and year,
    sorted by country then year. The same arguments always give the same frame.

    ``countries`` is a number (chosen by ``choose_countries`` with the seed) or a list of names.
    """
    if isinstance(countries, int):
        countries = choose_countries(codelists, countries, np.random.default_rng(seed))
    else:
        countries = resolve_countries(codelists, countries)
    check_profile(profile, codelists)
    if not years:
        raise UsageError("no years to generate")
    pool = _Pool.of(codelists)
    blocks = []
    for iso3 in countries:
        # one child stream per country: a country's numbers do not depend on the others chosen
        child = np.random.default_rng([seed, *iso3.encode()])
        blocks.append(_country_rows(codelists, profile, pool, iso3, years, child))
    columns = {name: np.concatenate([b[name] for b in blocks]) for name in C.TEMPLATE_COLUMNS}
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class _Pool:
    """The eligible countries as arrays (fast to sample from in a loop over countries)."""

    iso3: np.ndarray
    region: np.ndarray
    weight: np.ndarray  # sqrt(population): larger countries are likelier, not overwhelmingly
    population: dict[str, pd.Series]

    @classmethod
    def of(cls, codelists: CodeLists) -> _Pool:
        frame = eligible_countries(codelists)
        table = codelists.population.sort_values("year")
        return cls(
            iso3=frame["iso3"].to_numpy(dtype=object),
            region=frame["region_code"].to_numpy(dtype=object),
            weight=np.sqrt(frame["population"].to_numpy(dtype=float)),
            population={
                iso3: group.set_index("year")["population"] for iso3, group in table.groupby("iso3")
            },
        )

    def region_of(self, iso3: str) -> str:
        return str(self.region[self.iso3 == iso3][0])

    def population_in(self, iso3: str, years: list[int]) -> np.ndarray:
        """Population per year; years outside the table take the nearest year given."""
        series = self.population[iso3]
        full = series.reindex(range(series.index.min(), series.index.max() + 1)).ffill()
        clamped = np.clip(years, series.index.min(), series.index.max())
        return full.loc[clamped].to_numpy(dtype=float)


def _country_rows(
    codelists: CodeLists,
    profile: Profile,
    pool: _Pool,
    iso3: str,
    years: list[int],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    breakdowns, victims, trend = profile["breakdowns"], profile["victims"], profile["trend"]
    uses_unknown = rng.random() < breakdowns["unknown_countries_share"]
    country = _Country(
        iso3=iso3,
        region=pool.region_of(iso3),
        censors=bool(rng.random() < breakdowns["censoring_countries_share"]),
        unknown={
            dimension: float(rng.uniform(0.0, top)) if uses_unknown else 0.0
            for dimension, top in breakdowns["unknown_max"].items()
        },
        coarse=bool(rng.random() < breakdowns["coarse_share"]),
    )
    population = pool.population_in(iso3, years)
    rate = victims["rate_per_100k_median"] * np.exp(rng.normal(0.0, victims["rate_per_100k_sigma"]))
    base = max(float(population.mean()) / 1e5 * rate, float(victims["minimum_total"]))
    level = _trend(rng, len(years), trend)
    totals = np.maximum(np.rint(base * np.exp(level)), 0).astype(np.int64)

    parts = [
        _victims_cube(codelists, profile, country, base, totals, rng),
        _citizenship(profile, country, pool, base, totals, rng),
    ]
    for offender in profile["offenders"]:
        parts.append(_offenders(profile, country, offender, base, level, rng))
    cells = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    # parts are laid out cell by cell with the years inside; files want year by year
    n_years = len(years)
    n_cells = len(cells["count"]) // n_years
    order = np.arange(n_cells * n_years).reshape(n_cells, n_years).T.ravel()
    cells = {name: values[order] for name, values in cells.items()}
    cells[C.YEAR] = np.repeat(np.array([str(y) for y in years], dtype=object), n_cells)
    return _as_text(cells, profile, country)


def _cells(n_years: int, count: np.ndarray, **codes: object) -> dict[str, np.ndarray]:
    """Columns of one block of cells: codes repeated per year, or given per cell (arrays)."""
    out = {"count": np.asarray(count, dtype=np.int64)}
    n = len(out["count"])
    for name, value in codes.items():
        if isinstance(value, np.ndarray | list):
            out[name] = np.repeat(np.asarray(value, dtype=object), n_years)
        else:
            out[name] = np.full(n, value, dtype=object)
    return out


def _victims_cube(
    codelists: CodeLists,
    profile: Profile,
    country: _Country,
    base: float,
    totals: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    victims, breakdowns = profile["victims"], profile["breakdowns"]
    sexes = list(victims["sex_age"])
    ages = list(next(iter(victims["sex_age"].values())))
    forms = list(victims["exploitation"][sexes[0]])
    sex_age = np.array([[victims["sex_age"][s][a] for a in ages] for s in sexes])
    form_given_sex = np.array([[victims["exploitation"][s][f] for f in forms] for s in sexes])
    form_given_sex /= form_given_sex.sum(axis=1, keepdims=True)
    joint = sex_age[:, :, None] * form_given_sex[:, None, :]
    joint /= joint.sum()
    joint = rng.dirichlet(joint.ravel() * breakdowns["concentration"] + 1e-3).reshape(joint.shape)
    if country.coarse:
        rollups = codelists.rollups[codelists.rollups["target"] == breakdowns["coarse_target"]]
        rolled = dict(zip(rollups["code"], rollups["rolled_code"], strict=True))
        coarse_forms = list(dict.fromkeys(rolled.get(f, f) for f in forms))
        mapping = np.array([[rolled.get(f, f) == c for c in coarse_forms] for f in forms], float)
        joint = joint @ mapping
        forms = coarse_forms
    axes = {C.SEX: 0, C.AGE: 1, C.EXPLOITATION: 2}
    labels = {C.SEX: sexes, C.AGE: ages, C.EXPLOITATION: forms}
    for dimension, axis in axes.items():
        if country.unknown[dimension] > 0:
            joint = _with_unknown(joint, axis, country.unknown[dimension])
            labels[dimension] = [*labels[dimension], C.UNKNOWN]
    shape = joint.shape
    shares = _without_tiny_cells(joint.ravel(), base, breakdowns["minimum_expected_cell"])
    yearly = _drifted(rng, shares, len(totals), profile["trend"]["share_drift"])
    counts = largest_remainder(totals, yearly).reshape(len(totals), *shape)
    cube = _with_totals(counts, (1, 2, 3))
    codes = {d: np.array([C.TOTAL, *labels[d]], dtype=object) for d in axes}
    grid = np.meshgrid(*codes.values(), indexing="ij")
    return _cells(
        len(totals),
        np.moveaxis(cube, 0, -1).reshape(-1),
        **{C.INDICATOR: victims["indicator"], C.CITIZENSHIP: C.TOTAL, C.SOURCE: victims["source"]},
        **{dimension: grid[axis].ravel() for dimension, axis in axes.items()},
    )


def _citizenship(
    profile: Profile,
    country: _Country,
    pool: _Pool,
    base: float,
    totals: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    victims, foreign, breakdowns = profile["victims"], profile["foreign"], profile["breakdowns"]
    groups = list(victims["citizenship"])
    mean = np.array([victims["citizenship"][g] for g in groups], dtype=float)
    shares = rng.dirichlet(mean / mean.sum() * breakdowns["concentration"] / 4 + 1e-3)
    unknown = country.unknown[C.CITIZENSHIP]
    if unknown > 0:
        shares = np.append(shares * (1 - unknown), unknown)
        groups = [*groups, C.UNKNOWN]
    shares = _without_tiny_cells(shares, base, breakdowns["minimum_expected_cell"])
    n_years = len(totals)
    yearly = _drifted(rng, shares, n_years, profile["trend"]["share_drift"])
    counts = largest_remainder(totals, yearly)
    # the all-citizenship total is the victims' grand total, already a cell of the cube
    columns = list(counts.T)
    codes = list(groups)

    # named foreign citizenships: a fixed split of part of FOREIGN (never more than FOREIGN)
    foreign_index = groups.index(foreign["split_of"])
    k = int(rng.integers(foreign["min_countries"], foreign["max_countries"] + 1))
    available = pool.iso3 != country.iso3
    same_region = available & (pool.region == country.region)
    picked: list[str] = []
    for _ in range(k):
        use_same = rng.random() < foreign["same_region_share"] and same_region.any()
        candidates = same_region if use_same else available
        if not candidates.any():
            break
        weight = np.where(candidates, pool.weight, 0.0)
        choice = int(rng.choice(len(weight), p=weight / weight.sum()))
        picked.append(str(pool.iso3[choice]))
        available[choice] = same_region[choice] = False
    if picked:
        split = rng.dirichlet(np.ones(len(picked)) * 2)
        expected = base * shares[foreign_index] * foreign["attributed_share"] * split
        split = np.where(expected >= breakdowns["minimum_expected_cell"], split, 0.0)
        if split.sum() > 0:
            attributed = np.floor(counts[:, foreign_index] * foreign["attributed_share"])
            named = largest_remainder(
                attributed.astype(np.int64), np.tile(split / split.sum(), (n_years, 1))
            )
            for i in np.argsort(picked):
                if split[i] > 0:
                    columns.append(named[:, i])
                    codes.append(picked[i])
    return _cells(
        n_years,
        np.concatenate(columns),
        **{C.INDICATOR: victims["indicator"], C.SEX: C.TOTAL, C.AGE: C.TOTAL},
        **{C.EXPLOITATION: C.TOTAL, C.CITIZENSHIP: codes, C.SOURCE: victims["source"]},
    )


def _offenders(
    profile: Profile,
    country: _Country,
    offender: dict[str, Any],
    base: float,
    level: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    breakdowns = profile["breakdowns"]
    ratio = offender["ratio_median"] * np.exp(rng.normal(0.0, offender["ratio_sigma"]))
    expected = base * ratio
    totals = np.rint(expected * np.exp(level)).astype(np.int64)
    if expected < breakdowns["minimum_expected_cell"]:
        totals[:] = 0  # a series of ones and zeros would only set off "drop to zero" warnings
    sexes = list(offender["sex"])
    mean = np.array([offender["sex"][s] for s in sexes], dtype=float)
    shares = rng.dirichlet(mean / mean.sum() * breakdowns["concentration"] / 4 + 1e-3)
    if country.unknown[C.SEX] > 0:
        shares = np.append(shares * (1 - country.unknown[C.SEX]), country.unknown[C.SEX])
        sexes = [*sexes, C.UNKNOWN]
    shares = _without_tiny_cells(shares, expected, breakdowns["minimum_expected_cell"])
    yearly = _drifted(rng, shares, len(totals), profile["trend"]["share_drift"])
    counts = largest_remainder(totals, yearly)
    return _cells(
        len(totals),
        np.concatenate([totals, *counts.T]),
        **{C.INDICATOR: offender["indicator"], C.SEX: [C.TOTAL, *sexes], C.AGE: C.TOTAL},
        **{C.EXPLOITATION: C.TOTAL, C.CITIZENSHIP: C.TOTAL, C.SOURCE: offender["source"]},
    )


def _as_text(
    cells: dict[str, np.ndarray], profile: Profile, country: _Country
) -> dict[str, np.ndarray]:
    counts = cells.pop("count")
    text = counts.astype(str).astype(object)
    status = np.full(len(counts), profile["status"]["observed"], dtype=object)
    if country.censors:
        small = (counts >= 1) & (counts <= CENSORED_UPPER)
        text[small] = CENSORED_TEXT
        status[small] = profile["status"]["censored"]
    cells[C.COUNTRY] = np.full(len(counts), country.iso3, dtype=object)
    cells[C.VALUE] = text
    cells[C.STATUS] = status
    cells[C.COMMENT] = np.full(len(counts), "", dtype=object)
    return cells


# --- presentation -------------------------------------------------------------------------------
def with_labels(frame: pd.DataFrame, codelists: CodeLists, language: str) -> pd.DataFrame:
    """The same rows with codes written as labels in ``language`` (as an NSO might send them).

    Country and ISO3 citizenships stay codes: the code lists carry country names in English only.
    """
    if language not in LANGUAGES:
        raise UsageError(f"language must be one of {', '.join(LANGUAGES)}, got `{language}`")
    out = frame.copy()
    for dimension in C.CODED_DIMENSIONS:
        table = codelists.table(dimension)
        labels = dict(zip(table["code"], table[f"label_{language}"], strict=True))
        out[dimension] = out[dimension].map(lambda code, m=labels: m.get(code, code))
    return out


def split_files(frame: pd.DataFrame) -> list[tuple[str, int, slice]]:
    """(country, year, rows) of each file: one file per reporting country and year.

    ``frame`` must be sorted by country then year (``synthetic_submissions`` output is).
    """
    keys = frame[C.COUNTRY].astype(str) + "\t" + frame[C.YEAR].astype(str)
    change = np.flatnonzero(keys.to_numpy()[1:] != keys.to_numpy()[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(frame)]])
    return [
        (str(frame[C.COUNTRY].iat[a]), int(frame[C.YEAR].iat[a]), slice(int(a), int(b)))
        for a, b in zip(starts, ends, strict=True)
    ]


def parse_years(text: str) -> list[int]:
    """``2021-2023`` or ``2022`` -> the list of years."""
    first, _, last = text.partition("-")
    try:
        start, end = int(first), int(last or first)
    except ValueError:
        raise UsageError(f"--years must look like 2005-2024 or 2022, got `{text}`") from None
    if end < start:
        raise UsageError(f"--years: {end} is before {start}")
    return list(range(start, end + 1))
