"""The identity rules read part-to-total pairs off numbered keys (``identities._Breakdown``);
they must report exactly what the plain join of parts with totals (``identities._matches``)
reports, on generated observations with planted errors and on every fixture file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tipstats import columns as C
from tipstats import identities as I
from tipstats.codelists import load_codelists
from tipstats.errors import TipstatsError
from tipstats.readers import read_submission
from tipstats.sample_files import read_profile
from tipstats.synthetic import synthetic_submissions
from tipstats.validation import validate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


def _plain(obs: pd.DataFrame, codelists) -> pd.DataFrame:
    """check_identities with every pair found by the plain join (no key numbers)."""
    obs = I.categorical_keys(obs)
    frame, coded = I._prepare(obs)
    plain = {
        d: dataclasses.replace(cells, total_of=None)
        for d, cells in I._breakdowns(frame, coded).items()
    }
    over = I._all_over_pairs(frame, coded, plain)
    return I.concat_reports(
        [
            I.part_exceeds_total(obs, _over=over),
            I.parts_sum_to_total(
                obs, codelists, _over=over, _prepared=(frame, coded), _breakdowns=plain
            ),
        ]
    )


def _observations(codelists, seed: int) -> pd.DataFrame:
    """Generated submissions of a few countries, harmonized, with values disturbed so that
    parts exceed totals, sums miss, cells are censored or unknown."""
    frame = synthetic_submissions(codelists, read_profile(), 3, [2020, 2021], seed=seed)
    parsed = SimpleNamespace(frame=_with_rows(frame), layout="template", problems=None)
    report = validate(parsed, codelists)
    obs = report.observations.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    value = obs[C.VALUE].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    pick = rng.random(len(obs))
    value = np.where(pick < 0.05, value * 3 + 7, value)  # parts over totals, sums over
    value = np.where((pick >= 0.05) & (pick < 0.1), np.floor(value / 2), value)  # sums short
    obs[C.VALUE] = pd.array(np.where(np.isnan(value), None, value), dtype="Float64").astype("Int64")
    censored = (pick >= 0.1) & (pick < 0.13)
    obs.loc[censored, C.VALUE] = pd.NA
    obs.loc[censored, C.STATUS] = "C"
    return obs


def _with_rows(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    return frame.assign(**{C.SOURCE_ROW: np.arange(2, len(frame) + 2)})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_numbered_keys_report_what_the_join_reports(codelists, seed):
    obs = _observations(codelists, seed)
    fast = I.check_identities(obs, codelists)
    assert len(fast) > 0  # the planted errors are found
    pd.testing.assert_frame_equal(fast, _plain(obs, codelists))


def test_repeated_totals_take_the_join(codelists):
    """A key with two totals (a file that repeats a cell) cannot be read off one number per key:
    the join is used, and both totals are compared."""
    obs = _observations(codelists, 4)
    total = obs[(obs[C.SEX] == C.TOTAL)].head(3)
    obs = pd.concat([obs, total.assign(**{C.VALUE: 0})], ignore_index=True)
    frame, coded = I._prepare(I.categorical_keys(obs))
    assert I._breakdown(frame, C.SEX, coded).total_of is None
    fast = I.check_identities(obs, codelists)
    pd.testing.assert_frame_equal(fast, _plain(obs, codelists))
    assert (fast["row"].isin(obs[C.SOURCE_ROW].tail(3))).any()


def _fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file())


@pytest.mark.slow
def test_every_fixture_file_the_same(codelists):
    checked = 0
    for path in _fixture_files():
        try:
            report = validate(read_submission(path), codelists)
        except (TipstatsError, ValueError, OSError):
            continue
        obs = report.observations
        if obs is None or obs.empty:
            continue
        pd.testing.assert_frame_equal(
            I.check_identities(obs, codelists), _plain(obs, codelists), obj=str(path)
        )
        checked += 1
    assert checked >= 10
