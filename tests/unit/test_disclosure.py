"""Disclosure control: primary and secondary suppression, and the recovery checker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipstats.disclosure import (
    NOT_AVAILABLE,
    OBSERVED,
    SUPPRESSED_PRIMARY,
    SUPPRESSED_SECONDARY,
    Constraint,
    DisclosureConfig,
    DisclosureError,
    audit,
    check_recovery,
    margin_constraints,
    primary_flags,
    protect,
    with_flags,
)

T = "_T"


def age_table(total: int, children: int, adults: int) -> pd.DataFrame:
    return pd.DataFrame({"age": [T, "Y0T17", "Y_GE18"], "value": [total, children, adults]})


def sex_age_table(cells: dict[tuple[str, str], int | None]) -> pd.DataFrame:
    """A sex x age table with both margins and the grand total, from the interior cells."""
    sexes = sorted({s for s, _ in cells})
    ages = sorted({a for _, a in cells})
    rows = []
    for s in sexes:
        for a in ages:
            rows.append((s, a, cells[(s, a)]))
        rows.append((s, T, sum(cells[(s, a)] for a in ages)))
    for a in ages:
        rows.append((T, a, sum(cells[(s, a)] for s in sexes)))
    rows.append((T, T, sum(cells.values())))
    return pd.DataFrame(rows, columns=["sex", "age", "value"])


# --------------------------------------------------------------------------- primary


def test_primary_suppresses_one_to_four_and_zero_by_default() -> None:
    flags = primary_flags([0, 1, 4, 5, 120, np.nan], DisclosureConfig())
    assert list(flags) == [
        SUPPRESSED_PRIMARY,
        SUPPRESSED_PRIMARY,
        SUPPRESSED_PRIMARY,
        OBSERVED,
        OBSERVED,
        NOT_AVAILABLE,
    ]


def test_zero_published_when_configuration_allows_it() -> None:
    flags = primary_flags([0, 1], DisclosureConfig(publish_zero=True))
    assert list(flags) == [OBSERVED, SUPPRESSED_PRIMARY]


def test_threshold_is_configurable_and_shown_in_the_symbol() -> None:
    config = DisclosureConfig(threshold=10)
    flags = primary_flags([9, 10], config)
    assert list(flags) == [SUPPRESSED_PRIMARY, OBSERVED]
    out = with_flags(pd.DataFrame({"value": [9, 10]}), flags, config)
    assert list(out["display"]) == ["<10", "10"]


def test_exempt_aggregates_and_censored_cells() -> None:
    flags = primary_flags(
        [3, 3, np.nan], DisclosureConfig(), exempt=[True, False, False], censored=[0, 0, 1]
    )
    assert list(flags) == [OBSERVED, SUPPRESSED_PRIMARY, SUPPRESSED_PRIMARY]


def test_bad_threshold_is_a_clear_error() -> None:
    with pytest.raises(DisclosureError, match="threshold"):
        DisclosureConfig(threshold=0)
    with pytest.raises(DisclosureError, match="narrower"):
        DisclosureConfig(threshold=2, publish_zero=True)


# --------------------------------------------------------------------------- checker


def test_dataunodc_pattern_is_caught_by_the_checker_with_primary_only() -> None:
    # The public file shows total 15, children 15, adults "<5": adults must be 0.
    table = age_table(15, 15, 0)
    config = DisclosureConfig()
    flags = primary_flags(table["value"], config)
    constraints = margin_constraints(table, ["age"])
    published = table["value"].where(flags == OBSERVED)
    result = check_recovery(published, flags, constraints, config)
    assert result["cell"].tolist() == [2]
    assert result.loc[0, "low"] == result.loc[0, "high"] == 0
    assert bool(result.loc[0, "exposed"])


def test_dataunodc_pattern_is_fixed_by_secondary_suppression() -> None:
    out = protect(age_table(15, 15, 0), ["age"])
    assert out["flag"].tolist() == [OBSERVED, SUPPRESSED_SECONDARY, SUPPRESSED_PRIMARY]
    assert out["display"].tolist() == ["15", "x", "<5"]
    assert pd.isna(out.loc[1, "published"])
    result = audit(out, ["age"], exact_intervals=True)
    assert not result["exposed"].any()
    adults = result.set_index("cell").loc[2]
    assert (adults["low"], adults["high"]) == (0, 4)


def test_checker_reports_interval_of_each_hidden_cell() -> None:
    constraints = [Constraint(0, (1, 2, 3))]
    flags = np.array([OBSERVED, SUPPRESSED_PRIMARY, SUPPRESSED_PRIMARY, OBSERVED], dtype=object)
    result = check_recovery([20, np.nan, np.nan, 15], flags, constraints, DisclosureConfig())
    assert result[["low", "high"]].values.tolist() == [[1, 4], [1, 4]]
    assert not result["exposed"].any()


def test_two_small_cells_pinned_when_zero_is_published() -> None:
    # 2 = "<5" + "<5" with zeros published: both parts must be 1.
    constraints = [Constraint(0, (1, 2))]
    flags = np.array([OBSERVED, SUPPRESSED_PRIMARY, SUPPRESSED_PRIMARY], dtype=object)
    config = DisclosureConfig(publish_zero=True)
    result = check_recovery([2, np.nan, np.nan], flags, constraints, config)
    assert result["exposed"].all()


def test_inequality_constraint_when_parts_fall_short() -> None:
    table = pd.DataFrame({"age": [T, "Y0T17", "Y_GE18"], "value": [30, 3, 20]})
    (constraint,) = margin_constraints(table, ["age"])
    assert constraint == Constraint(0, (1, 2), exact=False)
    out = protect(table, ["age"])
    # Children <= 30 - 20 = 10 tells nothing beyond "<5", but the pair rule still hides one more.
    assert out["flag"].tolist()[1] == SUPPRESSED_PRIMARY
    assert not audit(out, ["age"])["exposed"].any()


def test_not_available_part_is_not_treated_as_zero() -> None:
    table = pd.DataFrame({"age": [T, "Y0T17", "Y_GE18", "UNKNOWN"], "value": [9, 2, 7, None]})
    out = protect(table, ["age"])
    assert out["flag"].tolist()[3] == NOT_AVAILABLE
    assert out["display"].tolist()[3] == ""
    assert not audit(out, ["age"])["exposed"].any()


def test_parts_exceeding_their_total_give_no_constraint() -> None:
    # Validation rejects such input; if it reaches an export, no relation is assumed from it.
    table = pd.DataFrame({"age": [T, "Y0T17", "Y_GE18"], "value": [10, 3, 20]})
    assert margin_constraints(table, ["age"]) == []
    out = protect(table, ["age"])
    assert out["flag"].tolist() == [OBSERVED, SUPPRESSED_PRIMARY, OBSERVED]


def test_censored_part_with_known_parts_above_the_total() -> None:
    # Real dataUNODC rows: a censored part (null, status C) beside parts that already exceed
    # their total (different sources). No relation holds; the censored cell is still "<5".
    table = pd.DataFrame(
        {"age": [T, "Y0T17", "Y_GE18", "UNKNOWN"], "value": [10, 8, 7, None], "status": "A"}
    )
    assert margin_constraints(table, ["age"]) == []
    out = protect(table, ["age"], censored=np.array([False, False, False, True]))
    assert out["flag"].tolist()[3] == SUPPRESSED_PRIMARY


def test_censored_cell_asked_two_values_by_inconsistent_source_data() -> None:
    # F/C is censored: its row says 2, its column says 3 (real submissions do this).
    table = pd.DataFrame(
        {
            "sex": ["F", "F", "F", "M", "M", "M", T, T, T],
            "age": ["A", "C", T, "A", "C", T, "A", "C", T],
            "value": [8, None, 10, 20, 6, 26, 28, 9, 36],
        }
    )
    censored = table["value"].isna().to_numpy()
    out = protect(table, ["sex", "age"], censored=censored)
    assert out.loc[1, "flag"] == SUPPRESSED_PRIMARY
    assert not audit(out, ["sex", "age"])["exposed"].any()


def test_contradictory_relation_is_relaxed_not_trusted() -> None:
    # 100 = x + 10 with x in [0, 4] has no solution: real sources contradict themselves (the
    # dataUNODC history does). No reader can rely on that equality; only 100 >= x + 10 is left.
    constraints = [Constraint(0, (1, 2))]
    flags = np.array([OBSERVED, SUPPRESSED_PRIMARY, OBSERVED], dtype=object)
    result = check_recovery([100, np.nan, 10], flags, constraints, DisclosureConfig())
    assert result[["low", "high"]].iloc[0].tolist() == [0, 4]
    assert not result["exposed"].any()


# --------------------------------------------------------------------------- secondary, 2-D


def test_sex_by_age_with_margins_hides_a_rectangle() -> None:
    cells = {("F", "A"): 3, ("F", "C"): 40, ("M", "A"): 25, ("M", "C"): 60}
    table = sex_age_table(cells)
    out = protect(table, ["sex", "age"])
    flags = dict(zip(zip(out["sex"], out["age"], strict=True), out["flag"], strict=True))
    assert flags[("F", "A")] == SUPPRESSED_PRIMARY
    # The smallest partners: M/A in the column, F/C in the row, then M/C closes the rectangle.
    assert flags[("M", "A")] == SUPPRESSED_SECONDARY
    assert flags[("F", "C")] == SUPPRESSED_SECONDARY
    assert flags[("M", "C")] == SUPPRESSED_SECONDARY
    assert flags[(T, T)] == OBSERVED
    assert not audit(out, ["sex", "age"])["exposed"].any()


def test_margin_that_is_small_is_protected_too() -> None:
    cells = {("F", "A"): 1, ("F", "C"): 2, ("M", "A"): 30, ("M", "C"): 50}
    out = protect(sex_age_table(cells), ["sex", "age"])
    f_total = out[(out["sex"] == "F") & (out["age"] == T)]
    assert f_total["flag"].item() == SUPPRESSED_PRIMARY
    assert not audit(out, ["sex", "age"])["exposed"].any()


def test_independent_subtables_by_key() -> None:
    table = pd.concat(
        [age_table(15, 15, 0).assign(country="AAA"), age_table(50, 30, 20).assign(country="BBB")]
    )
    out = protect(table, ["age"], keys=["country"])
    assert out.loc[out["country"] == "BBB", "flag"].eq(OBSERVED).all()
    assert not audit(out, ["age"], keys=["country"])["exposed"].any()


def test_exempt_cells_are_published_as_they_are() -> None:
    table = age_table(60, 58, 2)
    out = protect(table, ["age"], exempt=np.array([True, True, True]))
    assert out["flag"].eq(OBSERVED).all()


def test_audit_from_published_view_only() -> None:
    out = protect(age_table(15, 15, 0), ["age"])
    reader_view = out.drop(columns=["value"])
    assert not audit(reader_view, ["age"])["exposed"].any()


def test_all_cells_small_and_zero_published() -> None:
    # 4 = 1+1+1+1: four "<5" parts under a "<5" total would give every part away.
    cells = {("F", "A"): 1, ("F", "C"): 1, ("M", "A"): 1, ("M", "C"): 1}
    config = DisclosureConfig(publish_zero=True)
    out = protect(sex_age_table(cells), ["sex", "age"], config)
    assert not audit(out, ["sex", "age"], config)["exposed"].any()


# --------------------------------------------------------------------------- property


def _interiors(draw_values):
    return st.integers(min_value=1, max_value=4).flatmap(
        lambda rows: st.integers(min_value=1, max_value=4).flatmap(
            lambda cols: st.lists(draw_values, min_size=rows * cols, max_size=rows * cols).map(
                lambda vals: (rows, cols, vals)
            )
        )
    )


small_heavy = st.one_of(st.integers(0, 6), st.integers(0, 60))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_interiors(small_heavy), st.booleans(), st.integers(3, 6))
def test_after_suppression_the_checker_recovers_nothing(shape, publish_zero, threshold) -> None:
    rows, cols, vals = shape
    cells = {(f"S{r}", f"A{c}"): vals[r * cols + c] for r in range(rows) for c in range(cols)}
    config = DisclosureConfig(threshold=threshold, publish_zero=publish_zero)
    table = sex_age_table(cells)
    out = protect(table, ["sex", "age"], config)
    assert out["value"].tolist() == table["value"].tolist()  # true values untouched
    small = table["value"].between(0 if not publish_zero else 1, threshold - 1)
    assert out.loc[small, "flag"].isin([SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY]).all()
    result = audit(out, ["sex", "age"], config)
    assert not result["exposed"].any(), result[result["exposed"]]
    # The reader's view (no true values, equality assumed) cannot break it either.
    assert not audit(out.drop(columns=["value"]), ["sex", "age"], config)["exposed"].any()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_interiors(small_heavy), st.booleans())
def test_fast_and_exact_checker_agree(shape, publish_zero) -> None:
    # Primary suppression only, so that many cells are exposed: both modes must say the same.
    rows, cols, vals = shape
    cells = {(f"S{r}", f"A{c}"): vals[r * cols + c] for r in range(rows) for c in range(cols)}
    config = DisclosureConfig(publish_zero=publish_zero)
    table = sex_age_table(cells)
    flags = primary_flags(table["value"], config)
    constraints = margin_constraints(table, ["sex", "age"])
    published = table["value"].where(flags == OBSERVED)
    exact = check_recovery(published, flags, constraints, config)
    fast = check_recovery(published, flags, constraints, config, exact_intervals=False)
    assert exact["exposed"].tolist() == fast["exposed"].tolist()
    # The fast interval is inside the exact one.
    assert (fast["low"] >= exact["low"] - 1e-6).all() and (
        fast["high"] <= exact["high"] + 1e-6
    ).all()


def test_protection_holds_against_a_reader_who_assumes_the_table_adds_up() -> None:
    # True values do not add up (3 + 17 < 21: a victim of unknown age was left out), so
    # protection sees no equality; a reader of the published table assumes one and would solve
    # 21 - 17 = 4 for the hidden cell if it stood alone. (The end-to-end test on the built marts
    # exercises the reader's pass on real patterns: tests/sql/test_exports_on_marts.py.)
    from tipstats.report_tables import PublishedTable, audit_published

    table = pd.DataFrame({"age": [T, "Y0T17", "Y_GE18"], "value": [21, 3, 17]})
    assert [c.exact for c in margin_constraints(table, ["age"])] == [False]
    out = protect(table, ["age"])
    assert out["flag"].tolist()[1] == SUPPRESSED_PRIMARY
    assert (out["flag"] != OBSERVED).sum() >= 2
    published = out.assign(value=out["published"]).drop(columns=["published", "display"])
    view = PublishedTable(
        "t", "", "", "", published, ("value",), pd.DataFrame(), kind="counts", dimensions=("age",)
    )
    assert not audit_published(view, DisclosureConfig())["exposed"].any()


def test_at_least_dimension_never_gives_an_equality() -> None:
    table = pd.DataFrame({"form": [T, "SEXUAL", "OTHER"], "value": [30, 20, 10]})
    assert [c.exact for c in margin_constraints(table, ["form"])] == [True]
    assert [c.exact for c in margin_constraints(table, ["form"], at_least=["form"])] == [False]


def test_reader_pass_hides_what_a_reader_of_the_published_table_could_solve() -> None:
    # Found by a search over small tables: the true margins do not add up (6 + 2 < 9, 4 + 9 > 12),
    # so protection with true values keeps (T, C) = 9 published; a reader who takes every
    # complete relation as exact could then pin a hidden cell. The reader's pass hides it.
    from tipstats import disclosure
    from tipstats.report_tables import PublishedTable, audit_published

    table = pd.DataFrame(
        {
            "sex": ["F", "F", "M", "M", "F", "M", T, T, T],
            "age": ["A", "C", "A", "C", T, T, "A", "C", T],
            "value": [1, 6, 2, 2, 7, 4, 4, 9, 12],
        }
    )

    def reader_view(out: pd.DataFrame) -> pd.DataFrame:
        published = out.assign(value=out["published"]).drop(columns=["published", "display"])
        table = PublishedTable(
            "t", "", "", "", published, ("value",), pd.DataFrame(), dimensions=("sex", "age")
        )
        return audit_published(table, DisclosureConfig())

    out = protect(table, ["sex", "age"])
    assert out.loc[7, "flag"] == SUPPRESSED_SECONDARY
    assert not reader_view(out)["exposed"].any()
    original = disclosure._protect_against_reader
    try:
        disclosure._protect_against_reader = lambda frame, values, flags, *rest: flags
        without = protect(table, ["sex", "age"])
    finally:
        disclosure._protect_against_reader = original
    assert without.loc[7, "flag"] == OBSERVED
    assert reader_view(without)["exposed"].any()
