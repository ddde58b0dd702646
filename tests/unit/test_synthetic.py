"""The synthetic submission generator: deterministic, consistent, valid, and the bundled samples
are exactly what the documented commands produce."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tipstats import columns as C
from tipstats.cli import app
from tipstats.codelists import load_codelists
from tipstats.errors import UsageError
from tipstats.harmonize import harmonize
from tipstats.home import samples_dir
from tipstats.identities import check_identities, plausibility
from tipstats.sample_files import read_profile
from tipstats.synthetic import (
    Profile,
    check_profile,
    choose_countries,
    eligible_countries,
    largest_remainder,
    synthetic_submissions,
    with_labels,
)

YEARS = [2015, 2016, 2017, 2018]


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


@pytest.fixture(scope="module")
def profile():
    return read_profile()


@pytest.fixture(scope="module")
def frame(codelists, profile):
    return synthetic_submissions(codelists, profile, 30, YEARS, seed=7)


@pytest.fixture(scope="module")
def counts(frame):
    """The coded cells with their true values (censored `<5` cells are 1..4; null here)."""
    out = frame.copy()
    out[C.VALUE] = pd.to_numeric(out[C.VALUE], errors="coerce").astype("Int64")
    out[C.YEAR] = out[C.YEAR].astype(int)
    return out


def test_same_seed_same_frame_other_seed_other_frame(codelists, profile, frame):
    again = synthetic_submissions(codelists, profile, 30, YEARS, seed=7)
    pd.testing.assert_frame_equal(frame, again)
    other = synthetic_submissions(codelists, profile, 30, YEARS, seed=8)
    assert not frame.equals(other)


def test_a_country_does_not_depend_on_the_others_chosen(codelists, profile, frame):
    iso3 = frame[C.COUNTRY].iloc[-1]
    alone = synthetic_submissions(codelists, profile, [iso3], YEARS, seed=7)
    in_world = frame[frame[C.COUNTRY] == iso3].reset_index(drop=True)
    pd.testing.assert_frame_equal(in_world, alone)


def test_template_layout_and_file_order(frame):
    assert tuple(frame.columns) == C.TEMPLATE_COLUMNS
    keys = list(zip(frame[C.COUNTRY], frame[C.YEAR], strict=True))
    assert keys == sorted(keys)
    assert not frame.duplicated(list(C.OBSERVATION_KEY)).any()


def test_every_code_is_in_the_code_lists(codelists, frame):
    for dimension in (C.INDICATOR, C.SEX, C.AGE, C.EXPLOITATION, C.STATUS, C.SOURCE):
        assert set(frame[dimension]) <= set(codelists.codes(dimension)), dimension
    citizenship = set(frame[C.CITIZENSHIP])
    special = set(codelists.codes(C.CITIZENSHIP))
    countries = set(codelists.countries["iso3"])
    assert citizenship <= special | countries
    assert citizenship & countries, "some foreign citizenships are named"
    assert set(frame[C.COUNTRY]) <= countries


def test_countries_cover_every_glotip_region(codelists):
    chosen = choose_countries(codelists, 12, np.random.default_rng(3))
    regions = codelists.region_members.query("scheme == 'GLOTIP'")
    covered = set(regions.loc[regions["iso3"].isin(chosen), "region_code"])
    assert covered == set(regions["region_code"])
    assert len(set(chosen)) == 12


def test_too_many_countries_is_a_usage_error(codelists, profile):
    too_many = len(eligible_countries(codelists)) + 1
    with pytest.raises(UsageError, match="--countries"):
        synthetic_submissions(codelists, profile, too_many, YEARS, seed=1)


def test_mix_of_indicators_censored_cells_and_unknown_parts(codelists, frame, profile):
    indicators = set(frame[C.INDICATOR])
    assert {profile["victims"]["indicator"]} | {o["indicator"] for o in profile["offenders"]} == (
        indicators
    )
    censored = frame[C.STATUS] == profile["status"]["censored"]
    assert censored.any()
    assert (frame.loc[censored, C.VALUE] == "<5").all()
    for dimension in (C.SEX, C.AGE, C.EXPLOITATION, C.CITIZENSHIP):
        assert (frame[dimension] == C.UNKNOWN).any(), dimension


def _margin_check(counts: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Parts summed against their totals; `complete` when no part is censored (null here).
    For citizenship the parts are NATIONALS, FOREIGN, UNKNOWN (ISO3 codes detail FOREIGN)."""
    others = [c for c in C.OBSERVATION_KEY if c != dimension]
    if dimension == C.CITIZENSHIP:
        parts = counts[counts[dimension].isin(["NATIONALS", "FOREIGN", "UNKNOWN"])]
    else:
        parts = counts[counts[dimension] != C.TOTAL]
    grouped = parts.groupby(others)[C.VALUE]
    totals = counts[counts[dimension] == C.TOTAL].set_index(others)[C.VALUE]
    joined = pd.DataFrame(
        {"total": totals, "parts": grouped.sum(), "complete": grouped.count() == grouped.size()}
    )
    return joined[joined["total"].notna() & joined["parts"].notna()]


@pytest.mark.parametrize("dimension", [C.SEX, C.AGE, C.EXPLOITATION, C.CITIZENSHIP])
def test_parts_plus_unknown_equal_the_total(counts, dimension):
    joined = _margin_check(counts, dimension)
    assert len(joined) > 50
    assert (joined["parts"] <= joined["total"]).all()
    complete = joined[joined["complete"].astype(bool)]
    assert len(complete) > 20
    assert (complete["parts"] == complete["total"]).all()


def test_named_citizenships_stay_within_foreign(counts, codelists):
    countries = set(codelists.countries["iso3"])
    named = counts[counts[C.CITIZENSHIP].isin(countries)]
    key = [C.COUNTRY, C.YEAR]
    named_sum = named.groupby(key)[C.VALUE].sum()
    foreign = counts[counts[C.CITIZENSHIP] == "FOREIGN"].set_index(key)[C.VALUE]
    joined = pd.concat([named_sum.rename("named"), foreign.rename("foreign")], axis=1).dropna()
    assert len(joined) and (joined["named"] <= joined["foreign"]).all()
    assert (named[C.CITIZENSHIP] != named[C.COUNTRY]).all()


def test_the_validator_finds_no_identity_problem_and_few_plausibility_warnings(codelists, frame):
    observations, report = harmonize(frame, "template", codelists)
    assert report.empty
    assert len(observations) == len(frame)
    assert check_identities(observations, codelists).empty
    warnings = plausibility(observations, observations.iloc[:0])
    assert len(warnings) <= 0.001 * len(observations)


def test_year_on_year_changes_of_totals_stay_below_the_threshold(counts):
    totals = counts[
        (counts[C.SEX] == C.TOTAL)
        & (counts[C.AGE] == C.TOTAL)
        & (counts[C.EXPLOITATION] == C.TOTAL)
        & (counts[C.CITIZENSHIP] == C.TOTAL)
    ].sort_values([C.COUNTRY, C.INDICATOR, C.YEAR])
    previous = totals.groupby([C.COUNTRY, C.INDICATOR])[C.VALUE].shift()
    change = (totals[C.VALUE] - previous).abs()
    large = (change > 20) & (change > 0.5 * previous)
    assert not large.fillna(False).any()


def test_victims_scale_with_population(codelists, profile):
    big, small = "IND", "ISL"
    frame = synthetic_submissions(codelists, profile, [big, small], [2020], seed=11)
    grand = frame[
        (frame[C.INDICATOR] == profile["victims"]["indicator"])
        & (frame[[C.SEX, C.AGE, C.EXPLOITATION, C.CITIZENSHIP]] == C.TOTAL).all(axis=1)
    ].set_index(C.COUNTRY)[C.VALUE]
    assert int(grand[big]) > 10 * int(grand[small].replace("<5", "4"))


def test_largest_remainder_keeps_totals():
    shares = np.array([[0.5, 0.3, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    out = largest_remainder(np.array([7, 10]), shares)
    assert out.sum(axis=1).tolist() == [7, 10]
    assert out[0].tolist() == [4, 2, 1]


def test_profile_with_a_code_outside_the_code_lists_is_refused(codelists, profile):
    data = {**profile.data, "victims": {**profile["victims"], "indicator": "VICTIMS_GUESSED"}}
    with pytest.raises(UsageError, match="VICTIMS_GUESSED"):
        check_profile(Profile(data), codelists)


def test_labels_map_back_to_the_same_codes(codelists, frame):
    sample = frame.head(300)
    for language in ("fr", "es"):
        labelled = with_labels(sample, codelists, language)
        assert (labelled[C.SEX] != sample[C.SEX]).any()
        for dimension in (C.INDICATOR, C.SEX, C.AGE, C.EXPLOITATION, C.STATUS, C.SOURCE):
            back = codelists.lookup_many(dimension, labelled[dimension])
            assert back.tolist() == sample[dimension].tolist(), (language, dimension)


def _documented_commands() -> list[list[str]]:
    readme = (samples_dir() / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(tipstats generate-sample.*?)```", readme, re.S)
    assert block, "data/samples/README.md documents the commands in a code block"
    return [shlex.split(line)[1:] for line in block.group(1).strip().splitlines()]


def test_bundled_samples_are_what_the_documented_commands_generate(tmp_path):
    runner = CliRunner()
    for command in _documented_commands():
        out = command.index("--out")
        assert command[out + 1] == "data/samples"
        command[out + 1] = str(tmp_path)
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    generated = sorted(p.name for p in tmp_path.iterdir())
    bundled = sorted(
        p.name for p in samples_dir().iterdir() if p.suffix in {".csv", ".xlsx"} and p.is_file()
    )
    assert generated == bundled
    assert len(bundled) >= 36
    for name in generated:
        if name.endswith(".csv"):
            assert (tmp_path / name).read_bytes() == (samples_dir() / name).read_bytes(), name
        else:
            pd.testing.assert_frame_equal(
                pd.read_excel(tmp_path / name, dtype=str),
                pd.read_excel(samples_dir() / name, dtype=str),
            )


def test_bundled_samples_span_every_glotip_region_and_three_years(codelists):
    names = [p.stem for p in samples_dir().glob("*.csv")]
    countries = {name.split("_")[0] for name in names}
    years = {name.split("_")[1] for name in names}
    regions = codelists.region_members.query("scheme == 'GLOTIP'")
    assert set(regions.loc[regions["iso3"].isin(countries), "region_code"]) == set(
        regions["region_code"]
    )
    assert len(countries) >= 12 and len(years) >= 3
