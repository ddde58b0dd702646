"""Identity and plausibility rules over canonical observations (pure).

Totals and parts live in the same table (DESIGN.md section 3): a part never exceeds its total;
parts plus UNKNOWN equal the total when all parts are given. A censored cell (`<5`, status C) is
the interval 0..4, so a rule fires only when the intervals cannot agree. Problems point at the
source row the user sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tipstats import columns as C
from tipstats.codelists import CodeLists
from tipstats.harmonize import CENSORED_UPPER
from tipstats.report_frame import ERROR, WARNING, concat_reports, empty_report, problems

KEY = list(C.OBSERVATION_KEY)
_CROSS = {C.SEX: C.AGE, C.AGE: C.SEX}

# Plausibility thresholds (issue 3): a change is large when over 50 % and over 20 persons.
LARGE_CHANGE_SHARE = 0.5
LARGE_CHANGE_PERSONS = 20


def bounds(obs: pd.DataFrame) -> pd.DataFrame:
    """Lower and upper bound of each cell: the value, 0..4 when censored, null when unknown."""
    censored = obs[C.STATUS] == "C"
    value = obs[C.VALUE].astype("Float64")
    lo = value.mask(censored & value.isna(), 0.0)
    hi = value.mask(censored & value.isna(), float(CENSORED_UPPER))
    return pd.DataFrame({"lo": lo, "hi": hi}, index=obs.index)


def _with_bounds(obs: pd.DataFrame) -> pd.DataFrame:
    found = bounds(obs)
    return obs.assign(lo=found["lo"], hi=found["hi"])


# --- cells as integer keys ----------------------------------------------------------------------
# A part and its total share every key column but one. Each key column is coded once as small
# integers and the other columns are combined into one integer per cell, so a file of a million
# cells is matched part to total with integer arrays instead of seven-column string joins.
_KEY_LIMIT = 2**62


def _key_codes(frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, int]]:
    """Each key column as integer codes (nulls coded too, as a join matches them) and its
    number of distinct codes."""
    coded = {}
    for column in KEY:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):  # the codes are there already
            codes = values.cat.codes.to_numpy(dtype=np.int64)
            n = len(values.cat.categories)
            coded[column] = (np.where(codes < 0, n, codes), n + 1)
            continue
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        coded[column] = (codes.astype(np.int64), max(len(uniques), 1))
    return coded


def _combined(coded: dict[str, tuple[np.ndarray, int]], columns: list[str]) -> np.ndarray:
    """One integer per row that is equal exactly when ``columns`` are all equal."""
    key = np.zeros(len(next(iter(coded.values()))[0]), dtype=np.int64)
    size = 1
    for column in columns:
        codes, n = coded[column]
        if size * n >= _KEY_LIMIT:  # renumber before the product could overflow
            key, found = pd.factorize(key)
            key, size = key.astype(np.int64), max(len(found), 1)
        key = key * n + codes
        size *= n
    return key


def _matches(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j) with ``left[i] == right[j]``, in the order of ``left`` then ``right``
    (what an inner join gives)."""
    index = pd.Index(right)
    if index.is_unique:
        found = index.get_indexer(left)
        i = np.flatnonzero(found >= 0)
        return i, found[i]
    pairs = pd.DataFrame({"_k": left, "_i": np.arange(len(left))}).merge(
        pd.DataFrame({"_k": right, "_j": np.arange(len(right))}), on="_k"
    )
    return pairs["_i"].to_numpy(), pairs["_j"].to_numpy()


def _is_total(frame: pd.DataFrame, dimension: str) -> np.ndarray:
    return (frame[dimension] == C.TOTAL).fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class _Breakdown:
    """The cells of one breakdown: each row's key without ``dimension`` (``key``), numbered in
    the order the keys first appear (``ids``, ``uniques``), and each number's total row."""

    key: np.ndarray
    ids: np.ndarray
    uniques: np.ndarray
    is_total: np.ndarray
    # the row of each key number's total (-1: none); None when some key has several totals
    total_of: np.ndarray | None


def _breakdown(
    frame: pd.DataFrame, dimension: str, coded: dict[str, tuple[np.ndarray, int]]
) -> _Breakdown:
    key = _combined(coded, [c for c in KEY if c != dimension])
    ids, uniques = pd.factorize(key)
    is_total = _is_total(frame, dimension)
    total_at = np.flatnonzero(is_total)
    total_ids = ids[total_at]
    total_of: np.ndarray | None = np.full(len(uniques), -1, dtype=np.int64)
    total_of[total_ids] = total_at
    if np.count_nonzero(total_of >= 0) < len(total_at):  # a key with several totals
        total_of = None
    return _Breakdown(key, ids.astype(np.int64), uniques, is_total, total_of)


def _totals_of(cells: _Breakdown, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``i`` into ``at`` whose row has a total, and that total's row: what
    ``_matches(key[at], key[totals])`` gives, read off the key numbers when totals are unique."""
    if cells.total_of is None:
        total_at = np.flatnonzero(cells.is_total)
        i, j = _matches(cells.key[at], cells.key[total_at])
        return i, total_at[j]
    found = cells.total_of[cells.ids[at]]
    i = np.flatnonzero(found >= 0)
    return i, found[i]


def _over_pairs(
    frame: pd.DataFrame,
    dimension: str,
    coded: dict[str, tuple[np.ndarray, int]],
    cells: _Breakdown | None = None,
) -> pd.DataFrame:
    """Every part whose lower bound exceeds its total's upper bound, with the total's bounds and
    row (``lo_total``, ``hi_total``, ``source_row_total``) and the part's index (``_index``)."""
    cells = cells if cells is not None else _breakdown(frame, dimension, coded)
    key = cells.key
    part_at = np.flatnonzero(~cells.is_total)
    i, total_at = _totals_of(cells, part_at)
    part_at = part_at[i]
    lo = frame["lo"].to_numpy(dtype=float, na_value=np.nan)
    hi = frame["hi"].to_numpy(dtype=float, na_value=np.nan)
    over = lo[part_at] > hi[total_at]  # a null bound compares False: nothing proven
    if not over.any():  # the usual case; building the pairs is most of a small file's cost
        return pd.DataFrame(
            columns=["_index", *frame.columns, "lo_total", "hi_total", C.SOURCE_ROW + "_total"]
            + ["_key"]
        )
    part_at, total_at = part_at[over], total_at[over]
    pairs = frame.iloc[part_at].reset_index(names="_index")
    pairs["lo_total"] = frame["lo"].array.take(total_at)
    pairs["hi_total"] = frame["hi"].array.take(total_at)
    pairs[C.SOURCE_ROW + "_total"] = frame[C.SOURCE_ROW].array.take(total_at)
    pairs["_key"] = key[part_at]
    return pairs


def part_exceeds_total_mask(obs: pd.DataFrame) -> pd.Series:
    """True for every part larger than its total along some breakdown (schema check)."""
    frame = _with_bounds(obs)
    coded = _key_codes(frame)
    bad = pd.Series(False, index=obs.index)
    for dimension in C.BREAKDOWN_DIMENSIONS:
        over = _over_pairs(frame, dimension, coded)["_index"]
        bad.loc[over.to_numpy()] = True
    return bad


def _describe(frame: pd.DataFrame, prefix: str = "") -> pd.Series:
    """A short name for a cell: `VICTIMS_DETECTED 2019 sex=F age=_T ...`."""
    text = frame[prefix + C.INDICATOR].astype(str) + " " + frame[prefix + C.YEAR].astype(str)
    for dimension in C.BREAKDOWN_DIMENSIONS:
        text = text + f" {dimension}=" + frame[prefix + dimension].astype(str)
    return text


def _shown(lo: pd.Series, hi: pd.Series) -> pd.Series:
    exact = lo.astype("Int64").astype(str)
    ranged = lo.astype("Int64").astype(str) + "..." + hi.astype("Int64").astype(str)
    return exact.where(lo == hi, ranged)


def _is_cross(frame: pd.DataFrame, dimension: str) -> pd.Series:
    other = _CROSS.get(dimension)
    if other is None:
        return pd.Series(False, index=frame.index)
    return frame[other] != C.TOTAL


def part_exceeds_total(
    obs: pd.DataFrame, *, _over: dict[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """A part larger than its total: `identity.part_exceeds_total`, or, for a sex x age cell,
    `identity.sex_age_inconsistent`. The row is the part's."""
    over = _over if _over is not None else _all_over_pairs(_with_bounds(obs))
    reports = []
    for dimension in C.BREAKDOWN_DIMENSIONS:
        pairs = over[dimension]
        if pairs.empty:
            continue
        cross = _is_cross(pairs, dimension)
        message = (
            _describe(pairs)
            + ": "
            + _shown(pairs["lo"], pairs["hi"])
            + f" is more than the total for all {dimension} values, "
            + _shown(pairs["lo_total"], pairs["hi_total"])
            + " (row "
            + pairs[C.SOURCE_ROW + "_total"].astype(str)
            + ")"
        )
        for rule, mask in (
            ("identity.part_exceeds_total", ~cross),
            ("identity.sex_age_inconsistent", cross),
        ):
            chosen = pairs[mask.to_numpy()]
            if len(chosen):
                reports.append(
                    problems(
                        rule,
                        ERROR,
                        chosen[C.SOURCE_ROW],
                        C.VALUE,
                        chosen[C.VALUE].astype("string"),
                        message[mask.to_numpy()],
                    )
                )
    return concat_reports(reports)


def _prepare(obs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, int]]]:
    frame = _with_bounds(obs)
    return frame, _key_codes(frame)


def _all_over_pairs(
    frame: pd.DataFrame,
    coded: dict[str, tuple[np.ndarray, int]] | None = None,
    breakdowns: dict[str, _Breakdown] | None = None,
) -> dict[str, pd.DataFrame]:
    coded = coded if coded is not None else _key_codes(frame)
    breakdowns = breakdowns or {}
    return {d: _over_pairs(frame, d, coded, breakdowns.get(d)) for d in C.BREAKDOWN_DIMENSIONS}


def _breakdowns(
    frame: pd.DataFrame, coded: dict[str, tuple[np.ndarray, int]]
) -> dict[str, _Breakdown]:
    return {d: _breakdown(frame, d, coded) for d in C.BREAKDOWN_DIMENSIONS}


def complete_sets(dimension: str, codelists: CodeLists) -> list[frozenset[str]]:
    """Sets of codes that together make up the total (besides UNKNOWN).

    Every code of the list; for exploitation also each coarser list of ``rollups.csv``.
    Country codes in citizenship are details of FOREIGN/NATIONALS, not parts of the total.
    """
    detailed = frozenset(c for c in codelists.codes(dimension) if c not in (C.TOTAL, C.UNKNOWN))
    sets = [detailed]
    if dimension == C.EXPLOITATION:
        for _, group in codelists.rollups.groupby("target"):
            coarse = frozenset(group["rolled_code"]) - {C.TOTAL, C.UNKNOWN}
            if coarse not in sets:
                sets.append(coarse)
    return sets


# the sets of the last code lists seen, per dimension: reading them is a fixed cost of every file
_SETS: dict[str, tuple[CodeLists, list[frozenset[str]]]] = {}


def _complete_sets(dimension: str, codelists: CodeLists) -> list[frozenset[str]]:
    cached = _SETS.get(dimension)
    if cached is None or cached[0] is not codelists:
        cached = (codelists, complete_sets(dimension, codelists))
        _SETS[dimension] = cached
    return cached[1]


def _is_in(values: pd.Series, codes: frozenset[str]) -> np.ndarray:
    """``values.isin(codes)`` as booleans; for a categorical, judged once per category."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        hit = values.cat.categories.isin(list(codes))
        return np.append(hit, False)[values.cat.codes.to_numpy()]  # code -1 (null): False
    return values.isin(codes).to_numpy(dtype=bool)


def parts_sum_to_total(
    obs: pd.DataFrame,
    codelists: CodeLists,
    *,
    _over: dict[str, pd.DataFrame] | None = None,
    _prepared: tuple[pd.DataFrame, dict[str, tuple[np.ndarray, int]]] | None = None,
    _breakdowns: dict[str, _Breakdown] | None = None,
) -> pd.DataFrame:
    """Sums of parts against their total; the row reported is the total's.

    - parts (with UNKNOWN) adding up to more than the total: `identity.parts_exceed_total`;
    - all parts given but parts + UNKNOWN below the total: `identity.parts_unknown_mismatch`;
    - the same for the sex x age cells of one sex or one age group:
      `identity.sex_age_inconsistent` (more) / `identity.parts_unknown_mismatch` (less).

    A group with a single part above the total is left to ``part_exceeds_total``.
    """
    frame, coded = _prepared if _prepared is not None else _prepare(obs)
    over_pairs = _over if _over is not None else _all_over_pairs(frame, coded)
    lo_all = frame["lo"].to_numpy(dtype=float, na_value=np.nan)
    hi_all = frame["hi"].to_numpy(dtype=float, na_value=np.nan)
    reports = []
    for dimension in C.BREAKDOWN_DIMENSIONS:
        sets = _complete_sets(dimension, codelists)
        part_codes = frozenset().union(*sets) | {C.UNKNOWN}
        others = [c for c in KEY if c != dimension]
        values = frame[dimension]
        part_at = np.flatnonzero(_is_in(values, part_codes))
        if not len(part_at):
            continue
        cells = (_breakdowns or {}).get(dimension)
        if cells is not None and cells.total_of is not None:
            # groups are the key numbers; the order of their first part is restored below
            key, group_of, group_keys = cells.key, cells.ids[part_at], cells.uniques
            n_groups = len(group_keys)
            first = np.full(n_groups, len(part_at), dtype=np.int64)
            np.minimum.at(first, group_of, np.arange(len(part_at)))
        else:
            key = _combined(coded, others)
            # groups numbered in the order of their first part, as the rows of the file run
            group_of, group_keys = pd.factorize(key[part_at])
            n_groups = len(group_keys)
            # a row opens a group when its number exceeds every number before it
            highest = np.maximum.accumulate(group_of)
            first = np.flatnonzero(np.r_[True, highest[1:] > highest[:-1]])

        def total_of(weights: np.ndarray, group_of: np.ndarray = group_of, n: int = n_groups):
            return np.bincount(group_of, weights=weights, minlength=n)

        lo, hi = lo_all[part_at], hi_all[part_at]
        unknown_value = np.isnan(lo)
        sum_lo = total_of(np.where(unknown_value, 0.0, lo))
        sum_hi = total_of(np.where(np.isnan(hi), 0.0, hi))
        n_parts = np.bincount(group_of, minlength=n_groups)
        n_unknown_value = np.bincount(group_of, weights=unknown_value, minlength=n_groups)
        is_unknown = (values.iloc[part_at] == C.UNKNOWN).to_numpy(dtype=bool)
        n_unknown_code = np.bincount(group_of, weights=is_unknown, minlength=n_groups)
        complete = np.zeros(n_groups, dtype=bool)
        for codes in sets:
            in_set = _is_in(values, codes)[part_at]
            n_in = np.bincount(group_of, weights=in_set, minlength=n_groups)
            complete |= (n_in == len(codes)) & (n_in + n_unknown_code == n_parts)
        if cells is not None and cells.total_of is not None:
            # groups with parts and a total, in the order of their first part (as _matches
            # gives them for groups numbered that way)
            g = np.flatnonzero((first < len(part_at)) & (cells.total_of >= 0))
            g = g[np.argsort(first[g], kind="stable")]
            total_at = cells.total_of[g]
        else:
            total_at_all = np.flatnonzero(_is_total(frame, dimension))
            g, t = _matches(group_keys, key[total_at_all])
            total_at = total_at_all[t]
        usable = n_unknown_value[g] == 0
        single_over = over_pairs[dimension]["_key"].to_numpy()
        if len(single_over):
            usable &= ~np.isin(group_keys[g], single_over)
        g, total_at = g[usable], total_at[usable]
        with np.errstate(invalid="ignore"):
            over = sum_lo[g] > hi_all[total_at]
            short = complete[g] & (sum_hi[g] < lo_all[total_at])
        representative = part_at[first[g]]
        cross = np.zeros(len(g), dtype=bool)
        if dimension in _CROSS:
            cross = (frame[_CROSS[dimension]].iloc[representative] != C.TOTAL).to_numpy(bool)
        for rule, severity, mask, tail in (
            ("identity.parts_exceed_total", ERROR, over & ~cross, ""),
            ("identity.sex_age_inconsistent", ERROR, over & cross, " (sex x age cells)"),
            (
                "identity.parts_unknown_mismatch",
                WARNING,
                short,
                f"; add the missing persons under {C.UNKNOWN} or correct the total",
            ),
        ):
            if not mask.any():
                continue
            chosen = frame.iloc[representative[mask]].assign(**{dimension: C.TOTAL})
            lo_sum = pd.Series(pd.array(sum_lo[g][mask], dtype="Float64"), index=chosen.index)
            hi_sum = pd.Series(pd.array(sum_hi[g][mask], dtype="Float64"), index=chosen.index)
            lo_total = pd.Series(frame["lo"].array.take(total_at[mask]), index=chosen.index)
            hi_total = pd.Series(frame["hi"].array.take(total_at[mask]), index=chosen.index)
            message = (
                _describe(chosen)
                + f": the {dimension} values add up to "
                + _shown(lo_sum, hi_sum)
                + ", but the total is "
                + _shown(lo_total, hi_total)
                + tail
            )
            reports.append(
                problems(
                    rule,
                    severity,
                    frame[C.SOURCE_ROW].array.take(total_at[mask]),
                    C.VALUE,
                    lo_total.astype("Int64").astype("string"),
                    message,
                )
            )
    return concat_reports(reports)


def check_identities(obs: pd.DataFrame, codelists: CodeLists) -> pd.DataFrame:
    if obs.empty:
        return empty_report()
    obs = categorical_keys(obs)
    prepared = _prepare(obs)
    breakdowns = _breakdowns(*prepared)
    over = _all_over_pairs(*prepared, breakdowns)
    return concat_reports(
        [
            part_exceeds_total(obs, _over=over),
            parts_sum_to_total(
                obs, codelists, _over=over, _prepared=prepared, _breakdowns=breakdowns
            ),
        ]
    )


def categorical_keys(obs: pd.DataFrame) -> pd.DataFrame:
    """The text key columns as categoricals: coding them as integers then reads small codes
    instead of strings. Values and messages are unchanged."""
    text_keys = [c for c in KEY if c in obs.columns and c != C.YEAR]
    return obs.astype({column: "category" for column in text_keys})


# --- plausibility against the warehouse ---------------------------------------------------------
def plausibility(obs: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
    """Warnings for what looks odd next to the series already in the warehouse.

    ``history`` holds the current warehouse observations of the same country (canonical
    columns). The file's own cells replace history for the same key, then each cell is compared
    with the year before.
    """
    if history is None or obs.empty:
        return empty_report()
    series_key = [c for c in KEY if c != C.YEAR]
    new = obs[[*KEY, C.VALUE, C.STATUS, C.SOURCE_ROW]].copy()
    old = history.reindex(columns=[*KEY, C.VALUE, C.STATUS]).copy()
    old = old.astype({C.YEAR: "Int64", C.VALUE: "Int64"})
    new[C.YEAR] = new[C.YEAR].astype("Int64")
    combined = pd.concat([old.assign(_new=False), new.assign(_new=True)], ignore_index=True)
    combined = combined.drop_duplicates(KEY, keep="last")
    previous = combined[[*series_key, C.YEAR, C.VALUE]].copy()
    previous[C.YEAR] = previous[C.YEAR] + 1
    current = new.merge(previous, on=[*series_key, C.YEAR], how="left", suffixes=("", "_prev"))
    value = current[C.VALUE].astype("Float64")
    prev = current[C.VALUE + "_prev"].astype("Float64")
    change = value - prev
    drop_to_zero = ((value == 0) & (prev > 0)).fillna(False)
    large = (
        (change.abs() > LARGE_CHANGE_PERSONS) & (change.abs() > LARGE_CHANGE_SHARE * prev)
    ).fillna(False) & ~drop_to_zero
    name = _describe(current)
    previous_year = (current[C.YEAR] - 1).astype(str)
    reports = []
    if large.any():
        chosen = current[large.to_numpy()]
        percent = (100 * change / prev.where(prev != 0)).round().astype("Int64")
        percent_text = (" (" + percent.astype(str) + " %)").where(percent.notna(), "")
        message = (
            name
            + ": "
            + value.astype("Int64").astype(str)
            + ", against "
            + prev.astype("Int64").astype(str)
            + " in "
            + previous_year
            + percent_text
            + "; please confirm the figure"
        )
        reports.append(
            problems(
                "plausibility.large_change",
                WARNING,
                chosen[C.SOURCE_ROW],
                C.VALUE,
                chosen[C.VALUE].astype("string"),
                message[large.to_numpy()],
            )
        )
    if drop_to_zero.any():
        chosen = current[drop_to_zero.to_numpy()]
        message = (
            name
            + ": 0, against "
            + prev.astype("Int64").astype(str)
            + " in "
            + previous_year
            + "; is the series really zero or not available (leave empty, status M)?"
        )
        reports.append(
            problems(
                "plausibility.drop_to_zero",
                WARNING,
                chosen[C.SOURCE_ROW],
                C.VALUE,
                chosen[C.VALUE].astype("string"),
                message[drop_to_zero.to_numpy()],
            )
        )
    reports.append(_new_breaks(new, old))
    return concat_reports(reports)


def _new_breaks(new: pd.DataFrame, old: pd.DataFrame) -> pd.DataFrame:
    """Status B where the warehouse has no break for that cell: a series newly declared broken."""
    breaks = new[new[C.STATUS] == "B"]
    if breaks.empty:
        return empty_report()
    known = old.loc[old[C.STATUS] == "B", KEY].assign(_known=True)
    merged = breaks.merge(known, on=KEY, how="left")
    fresh = merged[merged["_known"].isna().to_numpy()]
    if fresh.empty:
        return empty_report()
    message = (
        _describe(fresh)
        + ": marked as a break in series (status B); the figures before and after "
        + fresh[C.YEAR].astype(str)
        + " will not be compared in trends. Please confirm and explain in the comment"
    )
    return problems(
        "plausibility.new_break",
        WARNING,
        fresh[C.SOURCE_ROW],
        C.STATUS,
        fresh[C.STATUS].astype("string"),
        message,
    )


__all__ = [
    "bounds",
    "categorical_keys",
    "check_identities",
    "complete_sets",
    "part_exceeds_total",
    "part_exceeds_total_mask",
    "parts_sum_to_total",
    "plausibility",
]
