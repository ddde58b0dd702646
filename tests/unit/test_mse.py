"""Multiple systems estimation: published values, the existence checks, the bootstrap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from tipstats import mse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mse"


def load(name: str) -> mse.CaptureTable:
    return mse.capture_table(pd.read_csv(FIXTURES / f"{name}.csv"))


# --- published and reference values ---------------------------------------------------------


def test_korea_stepwise_estimate_is_the_published_268_7778():
    fit = mse.stepwise_fit(load("Korea"))
    assert fit.observed == 123
    assert round(fit.estimate, 3) == 268.778
    assert fit.interactions == ("b:c",)
    assert fit.dark_figure == pytest.approx(268.7778 - 123, abs=1e-3)


@pytest.mark.parametrize(
    ("name", "published"),
    [("NewOrl", 1110.488), ("NewOrl_5", 981.4314), ("Western", 2483.384)],
)
def test_stepwise_estimates_match_the_package_vignette(name, published):
    # values printed by MultipleSystemsEstimation's reproduce-2021 vignette
    assert mse.stepwise_fit(load(name)).estimate == pytest.approx(published, abs=1e-3)


REFERENCE = pd.read_csv(FIXTURES / "main_effects_reference.csv")


@pytest.mark.parametrize("row", REFERENCE.to_dict(orient="records"), ids=REFERENCE["dataset"])
def test_main_effects_fits_reproduce_the_reference(row):
    fit = mse.fit_model(load(row["dataset"]))
    assert fit.observed == row["observed"]
    assert fit.interactions == ()
    assert fit.estimate == pytest.approx(row["main_effects_N_hat"], abs=0.006)


def test_uk_2013_estimate_lies_in_the_published_range():
    fit = mse.stepwise_fit(load("UKdat"))
    assert fit.observed == 2744
    assert 10_000 <= fit.estimate <= 13_000


def test_kosovo_interval_overlaps_the_published_one():
    result = mse.estimate_population(load("Kosovo"), n_resamples=1000, seed=1234)
    assert result.observed == 4400
    interval = result.interval
    assert interval is not None
    assert interval.ci_low < result.estimate < interval.ci_high
    assert interval.ci_low <= 18_000 and interval.ci_high >= 6_900


# --- the fitting engine ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "interactions"),
    [
        ("Korea", ["b:c"]),
        ("Kosovo", ["ABA:OSCE", "OSCE:HRW", "EXH:OSCE"]),
        ("UKdat", ["PF:NCA", "LA:NG", "NG:GP"]),
        ("Western", []),
    ],
)
def test_own_irls_agrees_with_statsmodels(name, interactions):
    table = load(name)
    design = mse._design(table.n_lists)
    model = mse._pair_indices(table.lists, interactions)
    core = mse._fit_core(design, table.counts, model)
    x = design.full[np.ix_(core.layout.rows, core.layout.columns)]
    glm = sm.GLM(table.counts[core.layout.rows], x, family=sm.families.Poisson()).fit(tol=1e-12)
    assert core.converged
    np.testing.assert_allclose(core.beta, glm.params, rtol=1e-7, atol=1e-7)
    assert table.observed + core.dark == pytest.approx(
        mse.fit_model(table, interactions).estimate, rel=1e-9
    )


def test_never_overlapping_pair_removes_its_patterns():
    # Ned: lists K and R never overlap; adding K:R is the same as fixing their patterns at 0
    table = load("Ned")
    design = mse._design(table.n_lists)
    k, r = table.lists.index("K"), table.lists.index("R")
    assert (table.counts * table.patterns[:, k] * table.patterns[:, r]).sum() == 0
    fit = mse.fit_model(table, ["P:Z", "K:R"])
    assert fit.empty_overlaps == ("K:R",)
    assert "K:R" not in set(fit.coefficients["term"])
    both = (table.patterns[:, k] * table.patterns[:, r]).astype(bool)
    x = design.full[~both][:, design.columns([mse._pair_indices(table.lists, ["P:Z"])[0]])]
    glm = sm.GLM(table.counts[~both], x, family=sm.families.Poisson()).fit()
    assert fit.estimate == pytest.approx(table.observed + np.exp(glm.params[0]), rel=1e-8)


def test_stepwise_with_never_overlapping_pairs_reports_them():
    fit = mse.stepwise_fit(load("Ned"))
    assert fit.empty_overlaps  # the Dutch lists K and R never overlap and the pair is selected
    assert set(fit.empty_overlaps) <= set(fit.interactions)
    assert fit.estimate > fit.observed


def test_threshold_zero_gives_main_effects_and_one_the_full_model():
    table = load("Kosovo")
    assert mse.stepwise_fit(table, threshold=0).interactions == ()
    assert len(mse.stepwise_fit(table, threshold=1).interactions) == 6


def test_stricter_threshold_selects_a_sub_path():
    table = load("UKdat")
    loose = mse.stepwise_fit(table, threshold=0.02)
    strict = mse.stepwise_fit(table, threshold=0.001)
    assert strict.interactions == loose.interactions[: len(strict.interactions)]
    assert len(strict.interactions) < len(loose.interactions)
    assert all(p <= 0.001 for _, p in strict.steps)


# --- existence and identifiability (Chan, Silverman and Vincent 2021, Table 3) -----------------


def test_artificial_full_model_is_not_identifiable():
    check = mse.check_model(load("Artificial_3"), ["A:B", "A:C", "B:C"])
    assert check.exists and not check.identifiable
    assert check.empty_overlaps == ("A:C", "B:C")
    assert "not identifiable" in check.problems[0]
    assert "A:C, B:C" in check.problems[0]


def test_artificial_ab_model_has_no_estimate():
    table = load("Artificial_3")
    check = mse.check_model(table, ["A:B"])
    assert not check.exists and check.identifiable
    assert "does not exist" in check.problems[0]
    with pytest.raises(mse.MSEError, match=r"main effects \+ A:B: the maximum likelihood"):
        mse.fit_model(table, ["A:B"])


def test_artificial_ac_bc_model_passes_both_checks():
    table = load("Artificial_3")
    check = mse.check_model(table, ["A:C", "B:C"])
    assert check.ok and check.problems == ()
    fit = mse.fit_model(table, [("B", "C"), "A:C"])
    assert fit.empty_overlaps == ("A:C", "B:C")
    # A:C and B:C at -inf leave the C-only cell to itself: dark = 40*30/6, the 2-list Petersen
    assert fit.estimate == pytest.approx(96 + 40 * 30 / 6)


def test_existence_depends_on_the_support_only():
    table = load("Korea")
    design = mse._design(3)
    for model in [(), (0,), (0, 1), (0, 1, 2)]:
        ones = (table.counts > 0).astype(float)
        x_rows = mse._layout(design, model, table.counts @ design.pair_cells)
        x = design.full[np.ix_(x_rows.rows, x_rows.columns)]
        from_counts = mse._lp_positive(x, table.counts[x_rows.rows].astype(float)) > 1e-9
        from_support = mse._lp_positive(x, ones[x_rows.rows]) > 1e-9
        assert from_counts == from_support


@pytest.mark.parametrize("name", ["Artificial_3", "Korea", "NewOrl_5", "UKdat", "Ned"])
def test_fast_existence_proof_never_contradicts_the_linear_program(name):
    # the selection skips the LP when a settled IRLS fit proves existence; on random models and
    # small resamples (where estimates often do not exist) the proof must agree with the LP
    table = load(name)
    design = mse._design(table.n_lists)
    rng = np.random.default_rng(11)
    decided = {True: 0, False: 0}
    for trial in range(60):
        size = table.observed if trial % 2 else max(30, table.observed // 20)
        counts = rng.multinomial(size, table.counts / table.counts.sum())
        size_of_model = int(rng.integers(0, min(3, len(design.pairs)) + 1))
        model = tuple(sorted(rng.choice(len(design.pairs), size=size_of_model, replace=False)))
        layout = mse._layout(design, model, counts @ design.pair_cells)
        if mse._rank_deficiency(table.n_lists, layout.estimable, layout.empty):
            continue
        exists, _ = mse._check_support(table.n_lists, model, mse._support_key(counts))
        proved = mse._proves_existence(design, counts, mse._fit_core(design, counts, model))
        assert not (proved and not exists)
        decided[exists] += 1
        if exists and counts.min() > 0:
            assert proved  # a table without zeros always has an estimate, found by IRLS
    assert decided[True] > 0


def test_unknown_interaction_is_named():
    with pytest.raises(mse.MSEError, match="unknown list 'Q'"):
        mse.check_model(load("Korea"), ["b:Q"])


# --- bootstrap ----------------------------------------------------------------------------------


def test_bootstrap_is_reproducible_with_a_seed():
    table = load("Western")
    first = mse.bootstrap_interval(table, 200, seed=7)
    again = mse.bootstrap_interval(table, 200, seed=7)
    other = mse.bootstrap_interval(table, 200, seed=8)
    np.testing.assert_array_equal(first.replicates, again.replicates)
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert not np.array_equal(first.replicates, other.replicates)


def test_bootstrap_repeats_model_selection_on_resamples():
    table = load("Western")
    result = mse.estimate_population(table, n_resamples=300, seed=1)
    replicates = result.interval.replicates
    main_effects = mse.fit_model(table).estimate
    # a fixed model would give one smooth cloud; selection gives estimates from several models
    assert np.isfinite(replicates).all()
    assert (np.abs(replicates - main_effects) < 1e-6 * main_effects).sum() == 0
    assert replicates.std() > 100
    # the published BCa interval for Western is (1293, 3670)
    assert 900 < result.interval.ci_low < 1600 and 3200 < result.interval.ci_high < 4300


def test_bca_interval_keeps_its_level():
    table = load("Kosovo")
    wide = mse.bootstrap_interval(table, 300, seed=3, level=0.95)
    narrow = mse.bootstrap_interval(table, 300, seed=3, level=0.80)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


def test_bootstrap_refuses_too_few_resamples():
    with pytest.raises(mse.MSEError, match="at least 10 resamples"):
        mse.bootstrap_interval(load("Korea"), 5)


def test_six_list_bootstrap_of_uk_data():
    result = mse.estimate_population(load("UKdat"), n_resamples=1000, seed=1234)
    assert result.interval.n_failed == 0
    assert result.interval.ci_low < result.estimate < result.interval.ci_high


# --- input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("count_name", ["count", "Count", "n", "Freq", "Frequency", "frequency"])
def test_count_column_is_detected(count_name):
    frame = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], count_name: [5, 7, 2]})
    table = mse.capture_table(frame)
    assert table.lists == ("A", "B")
    assert table.observed == 14


def test_missing_count_column_is_a_clear_error():
    frame = pd.DataFrame({"A": [1, 0], "B": [0, 1], "total": [3, 4]})
    with pytest.raises(mse.MSEError, match="no count column.*found columns A, B, total"):
        mse.capture_table(frame)


def test_omitted_patterns_count_zero_and_repeats_are_summed():
    frame = pd.DataFrame({"A": [1, 1, 0], "B": [0, 0, 1], "C": [0, 0, 1], "n": [2, 3, 4]})
    table = mse.capture_table(frame)
    assert len(table.counts) == 7
    as_frame = table.to_frame().set_index(["A", "B", "C"])["count"]
    assert as_frame.loc[(1, 0, 0)] == 5
    assert as_frame.loc[(0, 1, 1)] == 4
    assert as_frame.sum() == 9 and (as_frame == 0).sum() == 5


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"A": [1, 2], "B": [0, 1], "n": [3, 4]}),
            "row 3, column 'A': list membership must be 0 or 1, got '2'",
        ),
        (
            pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [3, -1]}),
            "row 3, column 'n': a count must be a whole number >= 0",
        ),
        (
            pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [3.5, 1]}),
            "row 2, column 'n'",
        ),
        (
            pd.DataFrame({"A": [1, 0], "B": [0, 0], "n": [3, 1]}),
            "row 3: a case on no list",
        ),
        (pd.DataFrame({"A": [1, 0], "n": [3, 1]}), "at least 2 list columns"),
        (pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [0, 0]}), "no observed cases"),
    ],
)
def test_bad_tables_say_what_is_wrong(frame, message):
    with pytest.raises(mse.MSEError, match=message):
        mse.capture_table(frame)


def test_main_effects_model_without_estimate_is_refused():
    # every case is on exactly one list: the overlaps carry no information
    frame = pd.DataFrame({"A": [1, 0, 0], "B": [0, 1, 0], "C": [0, 0, 1], "n": [5, 6, 7]})
    with pytest.raises(mse.MSEError, match="main-effects model: the maximum likelihood"):
        mse.stepwise_fit(mse.capture_table(frame))


def test_result_as_dict_has_the_published_fields():
    result = mse.estimate_population(load("Korea"), n_resamples=50, seed=2)
    payload = result.to_dict()
    for key in ("observed", "estimate", "ci_low", "ci_high", "model", "dark_figure"):
        assert key in payload
    assert payload["model"] == "main effects + b:c"
    assert payload["ci_low"] <= payload["estimate"] <= payload["ci_high"]
