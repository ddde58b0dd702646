"""The block-by-block disclosure search hides exactly what the previous search hid.

The oracle is the previous module, frozen in ``disclosure_previous.py``: one pass over the whole
table per round, every block solved together, exact intervals per cell where in doubt. Tables
here are country tables shaped like the marts (sex x age x form with ``_T`` margins, one block
per country-year), with many small counts, cells censored at source and missing cells.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipstats import disclosure
from tipstats.disclosure import DisclosureConfig, audit, margin_constraints, protect
from tipstats.errors import TipstatsError

T = "_T"


def _previous():
    name = "tipstats_disclosure_previous"
    if name not in sys.modules:
        path = Path(__file__).with_name("disclosure_previous.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[name]


def country_table(seed: int, countries: int = 3, years: int = 2) -> pd.DataFrame:
    """Sex x age x form counts with every margin; small counts, censored and missing cells."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(countries):
        for year in range(2020, 2020 + years):
            interior = rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40], size=(2, 2, 3))
            cube = np.zeros((3, 3, 4))
            cube[:2, :2, :3] = interior
            cube[2, :, :] = cube[:2, :, :].sum(axis=0)
            cube[:, 2, :] = cube[:, :2, :].sum(axis=1)
            cube[:, :, 3] = cube[:, :, :3].sum(axis=2)
            for i, sex in enumerate(["F", "M", T]):
                for j, age in enumerate(["Y0T17", "Y_GE18", T]):
                    for k, form in enumerate(["SEXUAL", "FORCED_LABOUR", "OTHER", T]):
                        rows.append((f"C{c}", year, sex, age, form, float(cube[i, j, k])))
    frame = pd.DataFrame(rows, columns=["country", "year", "sex", "age", "exploitation", "value"])
    # Source quirks: totals a little above their parts (a victim of unknown form), cells
    # censored at source ("<5", no value), cells not given at all.
    totals = frame.index[frame["exploitation"] == T]
    bumped = rng.choice(totals, size=len(totals) // 6, replace=False)
    frame.loc[bumped, "value"] += 1
    small = frame.index[frame["value"].between(1, 4)]
    censored = rng.choice(small, size=len(small) // 5, replace=False)
    frame["status"] = "A"
    frame.loc[censored, "status"] = "C"
    frame.loc[censored, "value"] = np.nan
    interior = frame.index[(frame[["sex", "age", "exploitation"]] != T).all(axis=1)]
    frame = frame.drop(rng.choice(interior, size=len(interior) // 15, replace=False))
    return frame.reset_index(drop=True)


def _protect_both(frame: pd.DataFrame, config: DisclosureConfig, **options):
    """Both searches' tables, or both searches' errors (a table neither can protect)."""
    dims = ["sex", "age", "exploitation"]
    keys = ["country", "year"]
    censored = frame["status"].eq("C").to_numpy()
    outcomes = []
    for search in (protect, _previous().protect):
        try:
            outcomes.append(search(frame, dims, config, keys=keys, censored=censored, **options))
        except TipstatsError as error:  # the previous module raises its own DisclosureError
            outcomes.append(pd.DataFrame({"error": [str(error)]}))
    return outcomes


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "config",
    [DisclosureConfig(), DisclosureConfig(threshold=3, publish_zero=True)],
    ids=["default", "threshold3-zeros"],
)
def test_same_cells_hidden_as_the_previous_search(seed: int, config: DisclosureConfig) -> None:
    frame = country_table(seed)
    new, old = _protect_both(frame, config)
    pd.testing.assert_frame_equal(new, old)
    assert (new["flag"] == "suppressed_secondary").any()  # the search had work to do


def test_forms_as_at_least_and_withheld_cells_hide_the_same() -> None:
    frame = country_table(11, countries=2, years=3)
    withheld = np.zeros(len(frame), dtype=bool)
    withheld[::17] = True
    new, old = _protect_both(
        frame, DisclosureConfig(), at_least=("exploitation",), withheld=withheld
    )
    pd.testing.assert_frame_equal(new, old)


@pytest.mark.slow  # the previous search is slow: ~20 s on a busy 2-core box
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.booleans(), st.integers(3, 6))
def test_any_generated_table_hides_the_same(seed: int, publish_zero: bool, threshold: int) -> None:
    frame = country_table(seed, countries=1, years=2)
    config = DisclosureConfig(threshold=threshold, publish_zero=publish_zero)
    new, old = _protect_both(frame, config)
    pd.testing.assert_frame_equal(new, old)


@pytest.mark.parametrize("assume_exact", [False, True])
def test_margin_constraints_are_those_of_the_previous_loop(assume_exact: bool) -> None:
    frame = country_table(3)
    dims = ["sex", "age", "exploitation"]
    options = {"keys": ["country", "year"], "unknown_at_most": 4.0, "assume_exact": assume_exact}
    new = margin_constraints(frame, dims, **options)
    old = _previous().margin_constraints(frame, dims, **options)
    assert [(c.total, c.parts, c.exact) for c in new] == [(c.total, c.parts, c.exact) for c in old]


def test_audit_verdicts_agree_with_the_previous_checker() -> None:
    # Both checkers must agree cell by cell, and the fast path's interval must lie inside the
    # exact one.
    frame = country_table(5)
    dims, keys = ["sex", "age", "exploitation"], ["country", "year"]
    config = DisclosureConfig()
    flags = disclosure.primary_flags(frame["value"], config)
    # A few more hidden, by rote: some hidden cells are then protected, others still not.
    observed = np.flatnonzero(flags == disclosure.OBSERVED)
    flags[observed[::3]] = disclosure.SUPPRESSED_SECONDARY
    view = disclosure.with_flags(frame, flags, config)
    new = audit(view, dims, config, keys=keys)
    old = _previous().audit(view, dims, config, keys=keys, exact_intervals=True)
    assert new["exposed"].any() and not new["exposed"].all()
    assert new["cell"].tolist() == old["cell"].tolist()
    assert new["exposed"].tolist() == old["exposed"].tolist()
    assert (new["low"] >= old["low"] - 1e-6).all()
    assert (new["high"] <= old["high"] + 1e-6).all()
