"""Identity and plausibility rules over canonical observations (pure).

Totals and parts live in the same table (DESIGN.md section 3): a part never exceeds its total;
parts plus UNKNOWN equal the total when all parts are given. A censored cell (`<5`, status C) is
the interval 0..4, so a rule fires only when the intervals cannot agree. Problems point at the
source row the user sees.
"""

from __future__ import annotations

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
    out = obs.copy()
    out[["lo", "hi"]] = bounds(obs)
    return out


def _part_total_pairs(obs: pd.DataFrame, dimension: str) -> pd.DataFrame:
    others = [c for c in KEY if c != dimension]
    parts = obs[obs[dimension] != C.TOTAL].reset_index(names="_index")
    totals = obs.loc[obs[dimension] == C.TOTAL, [*others, "lo", "hi", C.SOURCE_ROW]]
    return parts.merge(totals, on=others, suffixes=("", "_total"))


def part_exceeds_total_mask(obs: pd.DataFrame) -> pd.Series:
    """True for every part larger than its total along some breakdown (schema check)."""
    frame = _with_bounds(obs)
    bad = pd.Series(False, index=obs.index)
    for dimension in C.BREAKDOWN_DIMENSIONS:
        pairs = _part_total_pairs(frame, dimension)
        over = pairs.loc[(pairs["lo"] > pairs["hi_total"]).fillna(False), "_index"]
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


def part_exceeds_total(obs: pd.DataFrame) -> pd.DataFrame:
    """A part larger than its total: `identity.part_exceeds_total`, or, for a sex x age cell,
    `identity.sex_age_inconsistent`. The row is the part's."""
    frame = _with_bounds(obs)
    reports = []
    for dimension in C.BREAKDOWN_DIMENSIONS:
        pairs = _part_total_pairs(frame, dimension)
        pairs = pairs[(pairs["lo"] > pairs["hi_total"]).fillna(False)]
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


def parts_sum_to_total(obs: pd.DataFrame, codelists: CodeLists) -> pd.DataFrame:
    """Sums of parts against their total; the row reported is the total's.

    - parts (with UNKNOWN) adding up to more than the total: `identity.parts_exceed_total`;
    - all parts given but parts + UNKNOWN below the total: `identity.parts_unknown_mismatch`;
    - the same for the sex x age cells of one sex or one age group:
      `identity.sex_age_inconsistent` (more) / `identity.parts_unknown_mismatch` (less).
    """
    frame = _with_bounds(obs)
    reports = []
    for dimension in C.BREAKDOWN_DIMENSIONS:
        sets = complete_sets(dimension, codelists)
        part_codes = frozenset().union(*sets) | {C.UNKNOWN}
        others = [c for c in KEY if c != dimension]
        parts = frame[frame[dimension].isin(part_codes)].copy()
        if parts.empty:
            continue
        parts["_unknown_value"] = parts["lo"].isna()
        parts["_unknown_code"] = parts[dimension] == C.UNKNOWN
        flags = [f"_in{i}" for i in range(len(sets))]
        for flag, codes in zip(flags, sets, strict=True):
            parts[flag] = parts[dimension].isin(codes)
        grouped = parts.groupby(others, sort=False).agg(
            lo=("lo", "sum"),
            hi=("hi", "sum"),
            n_parts=(dimension, "size"),
            n_unknown_value=("_unknown_value", "sum"),
            n_unknown_code=("_unknown_code", "sum"),
            **{name: (name, "sum") for name in flags},
        )
        grouped = grouped.reset_index()
        grouped["complete"] = False
        for flag, codes in zip(flags, sets, strict=True):
            n_in = grouped[flag]
            grouped["complete"] |= (n_in == len(codes)) & (
                n_in + grouped["n_unknown_code"] == grouped["n_parts"]
            )
        totals = frame.loc[frame[dimension] == C.TOTAL, [*others, "lo", "hi", C.SOURCE_ROW]]
        merged = grouped.merge(totals, on=others, suffixes=("", "_total"))
        merged = merged[merged["n_unknown_value"] == 0].assign(**{dimension: C.TOTAL})
        single_part_over = _groups_with_part_over(frame, dimension, others)
        if len(single_part_over):
            marker = merged[others].merge(single_part_over, on=others, how="left", indicator=True)[
                "_merge"
            ]
            merged = merged[(marker == "left_only").to_numpy()]
        over = (merged["lo"] > merged["hi_total"]).fillna(False)
        short = merged["complete"] & (merged["hi"] < merged["lo_total"]).fillna(False)
        cross = _is_cross(merged, dimension)
        message_base = (
            _describe(merged)
            + f": the {dimension} values add up to "
            + _shown(merged["lo"], merged["hi"])
            + ", but the total is "
            + _shown(merged["lo_total"], merged["hi_total"])
        )
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
            chosen = merged[mask.to_numpy()]
            if len(chosen):
                reports.append(
                    problems(
                        rule,
                        severity,
                        chosen[C.SOURCE_ROW],
                        C.VALUE,
                        chosen["lo_total"].astype("Int64").astype("string"),
                        message_base[mask.to_numpy()] + tail,
                    )
                )
    return concat_reports(reports)


def _groups_with_part_over(frame: pd.DataFrame, dimension: str, others: list[str]) -> pd.DataFrame:
    pairs = _part_total_pairs(frame, dimension)
    pairs = pairs[(pairs["lo"] > pairs["hi_total"]).fillna(False)]
    return pairs[others].drop_duplicates()


def check_identities(obs: pd.DataFrame, codelists: CodeLists) -> pd.DataFrame:
    if obs.empty:
        return empty_report()
    return concat_reports([part_exceeds_total(obs), parts_sum_to_total(obs, codelists)])


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
    "check_identities",
    "complete_sets",
    "part_exceeds_total",
    "part_exceeds_total_mask",
    "parts_sum_to_total",
    "plausibility",
]
