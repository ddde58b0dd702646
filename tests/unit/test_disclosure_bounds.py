"""The short cuts of the disclosure search give the plain method's answers.

Outer bounds by propagation never cut into a cell's true interval; blocks with the same LP
(twins) take each other's verdicts; the relations, the pairing pass and the margin groups built
from flat arrays equal the plain loops; a table protected in pieces of whole sub-tables hides
what the whole table's search hides. The oracle for whole tables is the previous module, frozen
in ``disclosure_previous.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from disclosure_tables import country_table, protect_both

from tipstats import disclosure
from tipstats import disclosure_lp as lp
from tipstats.disclosure import (
    OBSERVED,
    SUPPRESSED,
    SUPPRESSED_PRIMARY,
    SUPPRESSED_SECONDARY,
    Constraint,
    DisclosureConfig,
    check_recovery,
    margin_constraints,
    protect,
)

DIMS = ["sex", "age", "exploitation"]
KEYS = ["country", "year"]


def _hidden_view(seed: int) -> tuple[np.ndarray, np.ndarray, list[Constraint], DisclosureConfig]:
    """A country table with its primary cells and, by rote, a third of the rest hidden."""
    frame = country_table(seed)
    config = DisclosureConfig()
    values = frame["value"].to_numpy(dtype=float)
    flags = disclosure.primary_flags(values, config, censored=frame["status"].eq("C"))
    observed = np.flatnonzero(flags == OBSERVED)
    flags[observed[::3]] = SUPPRESSED_SECONDARY
    constraints = margin_constraints(frame, DIMS, keys=KEYS, unknown_at_most=4.0)
    constraints = disclosure.consistent_constraints(values, flags, constraints, config)
    return values, flags, constraints, config


def test_single_relation_bounds_are_the_closed_form() -> None:
    # total 10 = x + y + 3, x in [0, 4], y in [0, inf): x in [0, 4], y in [7 - 4, 7 - 0].
    relations = lp.Relations.of([(0, (1, 2, 3), True)])
    shown = np.array([10.0, np.nan, np.nan, 3.0])
    system = lp.build(
        relations,
        np.ones(1, dtype=bool),
        np.array([1, 2]),
        shown,
        np.zeros(4, dtype=bool),
        np.array([0.0, 0.0]),
        np.array([4.0, np.inf]),
    )
    low, high = lp.Blocks(system, np.zeros(2, dtype=np.int64)).outer_bounds()
    assert low.tolist() == [0.0, 3.0]
    assert high.tolist() == [4.0, 7.0]


@pytest.mark.parametrize("seed", range(4))
def test_outer_bounds_hold_the_exact_interval_of_every_hidden_cell(seed: int) -> None:
    values, flags, constraints, config = _hidden_view(seed)
    shown = np.where(np.isin(flags, SUPPRESSED), np.nan, values)
    exact = check_recovery(shown, flags, constraints, config, exact_intervals=True)
    relations = disclosure._relations(constraints)
    use = np.ones(relations.count, dtype=bool)
    cells = exact["cell"].to_numpy(dtype=np.int64)
    lower, upper = disclosure._bounds(cells, flags, config)
    system = lp.build(relations, use, cells, shown, flags == "not_available", lower, upper)
    blocks = lp.Blocks(system, lp.blocks_of(cells, relations, use, len(shown)))
    low, high = blocks.outer_bounds()
    assert (low <= exact["low"].to_numpy() + 1e-6).all()
    assert (high >= exact["high"].to_numpy() - 1e-6).all()
    # ... and they do decide some cells: the LPs they save.
    assert ((high - low) < 1 - 1e-6).any()


def test_relations_from_constraints_equal_the_tuple_by_tuple_build() -> None:
    _, _, constraints, _ = _hidden_view(1)
    fast = disclosure._relations(constraints)
    plain = lp.Relations.of([(c.total, c.parts, c.exact) for c in constraints])
    for name in ("number", "cell", "sign", "exact"):
        assert np.array_equal(getattr(fast, name), getattr(plain, name)), name
    assert fast.count == plain.count
    assert disclosure._relations([]).count == 0


def _pair_up_plainly(out, constraints, best) -> None:
    """The loop ``_pair_up`` replaces: full passes over every group until nothing changes."""
    changed = True
    while changed:
        changed = False
        for constraint in constraints:
            if sum(out[m] in SUPPRESSED for m in constraint.members) != 1:
                continue
            pick = best(constraint.members, allow_exempt=False)
            if pick is not None:
                out[pick] = SUPPRESSED_SECONDARY
                changed = True


@pytest.mark.parametrize("seed", range(4))
def test_pairing_pass_hides_what_the_plain_loop_hides(seed: int) -> None:
    frame = country_table(seed, countries=4)
    values = frame["value"].to_numpy(dtype=float)
    config = DisclosureConfig()
    flags = disclosure.primary_flags(values, config, censored=frame["status"].eq("C"))
    constraints = margin_constraints(frame, DIMS, keys=KEYS, unknown_at_most=4.0)
    rng = np.random.default_rng(seed)
    active = rng.random(len(constraints)) < 0.8
    relations = disclosure._relations(constraints)
    by_cell = disclosure._ByCell(constraints, relations, len(values))
    exempt = rng.random(len(values)) < 0.1
    results = []
    for plain in (False, True):
        out = flags.copy()
        rank = {c: (bool(exempt[c]), values[c] == 0, values[c], c) for c in range(len(out))}

        def best(cells, *, allow_exempt=True, out=out, rank=rank):
            pool = [m for m in cells if out[m] == OBSERVED and (allow_exempt or not exempt[m])]
            return min(pool, key=rank.__getitem__) if pool else None

        if plain:
            _pair_up_plainly(out, [c for c, a in zip(constraints, active, strict=True) if a], best)
        else:
            disclosure._pair_up(out, by_cell, active, best)
        results.append(out)
    assert (results[0] == results[1]).all()
    assert (results[0] != flags).any()  # the pass had work to do


def test_margin_groups_kept_for_other_values_give_the_same_constraints() -> None:
    frame = country_table(2)
    other = frame["value"].to_numpy(dtype=float)[::-1].copy()
    layout = disclosure._MarginLayout.of(frame, DIMS, KEYS)
    for assume_exact in (False, True):
        fresh = (
            margin_constraints(
                frame.assign(value=other), DIMS, keys=KEYS, unknown_at_most=4.0, assume_exact=True
            )
            if assume_exact
            else margin_constraints(frame.assign(value=other), DIMS, keys=KEYS, unknown_at_most=4.0)
        )
        kept = disclosure._constraints_of(
            layout, other, assume_exact=assume_exact, unknown_at_most=4.0, at_least=()
        )
        assert kept == fresh


def test_twin_sub_tables_hide_what_the_previous_search_hides() -> None:
    # Country-years with the same figures are blocks with the same LP: the later ones take the
    # earlier one's verdicts within a round instead of being solved again.
    one = country_table(7, countries=1, years=1)
    frame = pd.concat(
        [one.assign(country=f"D{n}") for n in range(4)] + [country_table(8, countries=2)],
        ignore_index=True,
    )
    for config in (DisclosureConfig(), DisclosureConfig(threshold=3, publish_zero=True)):
        new, old = protect_both(frame, config)
        pd.testing.assert_frame_equal(new, old)
        flags = new["flag"].to_numpy()
        size = len(one)
        assert all((flags[n * size : (n + 1) * size] == flags[:size]).all() for n in range(4))


def test_a_piece_of_whole_sub_tables_is_protected_as_in_the_whole_table() -> None:
    frame = country_table(4, countries=4, years=2)
    censored = frame["status"].eq("C").to_numpy()
    whole = protect(frame, DIMS, DisclosureConfig(), keys=KEYS, censored=censored)
    piece = frame["country"].isin(["C1", "C3"]).to_numpy()
    part = protect(frame[piece], DIMS, DisclosureConfig(), keys=KEYS, censored=censored[piece])
    assert part["flag"].tolist() == whole.loc[piece, "flag"].tolist()
    assert (whole["flag"] == SUPPRESSED_SECONDARY).any()
    assert (whole["flag"] == SUPPRESSED_PRIMARY).any()
