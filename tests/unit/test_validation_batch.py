"""Batch validation gives every file exactly the report of validating the files one by one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from tipstats import checking, validation
from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.errors import TipstatsError
from tipstats.sample_files import generate_sample_files
from tipstats.validation_batch import validate_batch
from tipstats.warehouse import repeated_cell

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


@pytest.fixture(scope="module")
def generated(tmp_path_factory, codelists) -> list:
    """3 countries x 2019-2022 of synthetic submissions, read (by country, then year)."""
    out = tmp_path_factory.mktemp("world")
    files = generate_sample_files(out, 3, [2019, 2020, 2021, 2022], seed=7)
    return [checking.read_file(path)[0] for path in sorted(files.paths)]


def one_by_one(parsed_files, codelists, history):
    """The reference: ``validate`` file after file, each accepted file loaded into the history
    before the next (what ``checking`` does in a chain)."""
    current = history
    outcomes = []
    for parsed in parsed_files:
        countries = checking.countries_of(parsed.frame, codelists)
        mine = None if current is None else checking.history_of(current, countries)
        try:
            report = validation.validate(parsed, codelists, mine)
        except TipstatsError as problem:
            outcomes.append(problem)
            continue
        obs = report.observations
        if (
            current is not None
            and report.accepted
            and obs is not None
            and len(obs)
            and repeated_cell(obs) is None
        ):
            current = checking.after_load(current, obs)
        outcomes.append(report)
    return outcomes


def assert_same(batch, reference) -> None:
    assert len(batch) == len(reference)
    for n, (got, want) in enumerate(zip(batch, reference, strict=True)):
        if isinstance(want, Exception):
            assert type(got) is type(want) and str(got) == str(want), n
            continue
        assert isinstance(got, validation.ValidationReport), (n, got)
        assert (got.layout, got.n_rows) == (want.layout, want.n_rows), n
        pd.testing.assert_frame_equal(got.table, want.table, obj=f"table of file {n}")
        if want.observations is None:
            assert got.observations is None, n
        else:
            pd.testing.assert_frame_equal(
                got.observations, want.observations, obj=f"observations of file {n}"
            )


def edited(parsed, **changes):
    """``parsed`` with some cells changed: {(row position, column): text}."""
    frame = parsed.frame.copy()
    for (position, column), text in changes.get("cells", {}).items():
        frame.loc[frame.index[position], column] = text
    if "scale" in changes:
        numbers = pd.to_numeric(frame[C.VALUE], errors="coerce")
        scaled = (numbers * changes["scale"]).round().astype("Int64").astype("string")
        frame[C.VALUE] = scaled.fillna(frame[C.VALUE]).astype(frame[C.VALUE].dtype)
    return replace(parsed, frame=frame)


def history_from(parsed_files, codelists) -> pd.DataFrame:
    """A warehouse history: the observations of some files, with one break in series known."""
    frames = [validation.validate(p, codelists).observations for p in parsed_files]
    history = pd.concat(frames, ignore_index=True)
    history.loc[0, C.STATUS] = "B"
    return checking.after_load(pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS)), history)


def test_generated_chains_with_resubmissions_rejections_and_warnings(
    generated, codelists, monkeypatch
) -> None:
    by_name = {p.path.stem: p for p in generated}
    names = sorted(by_name)
    a, b, c = sorted({name[:3] for name in names})
    batch = [
        by_name[f"{a}_2020"],
        by_name[f"{b}_2020"],
        edited(by_name[f"{a}_2021"], cells={(3, C.VALUE): "-4"}),  # rejected mid-chain
        by_name[f"{c}_2020"],
        edited(by_name[f"{a}_2022"], scale=3),  # large changes against 2020, not the rejected 2021
        edited(by_name[f"{b}_2020"], scale=2),  # a resubmission of the same country-year
        edited(  # warnings: an empty value, a new break, an unknown label, a drop to zero
            by_name[f"{b}_2021"],
            cells={(2, C.VALUE): "", (2, C.STATUS): "", (4, C.STATUS): "B", (5, C.VALUE): "0"},
        ),
        edited(by_name[f"{c}_2021"], cells={(6, C.SEX): "Femmes?"}),  # an error and a warning
        edited(by_name[f"{c}_2022"], cells={(1, C.VALUE): "<5", (1, C.STATUS): ""}),
        edited(by_name[f"{b}_2022"], cells={(7, C.VALUE): "1.282.000"}),  # dots: read alone
        by_name[f"{a}_2021"],  # the rejected year again, clean
        edited(by_name[f"{b}_2021"], scale=3),
        edited(by_name[f"{b}_2020"], scale=0.2),  # sums of rounded parts above their total
    ]
    # a repeated cell (its message names rows) and a row of another country: validated alone
    repeated = by_name[f"{c}_2019"]
    doubled = replace(
        repeated,
        frame=pd.concat([repeated.frame, repeated.frame.iloc[[3]]], ignore_index=True).assign(
            **{C.SOURCE_ROW: pd.array(range(2, len(repeated.frame) + 3), dtype="Int64")}
        ),
    )
    batch.insert(5, doubled)
    mixed = edited(by_name[f"{a}_2019"], cells={(4, C.COUNTRY): b})
    batch.insert(8, mixed)
    history = history_from([by_name[f"{a}_2019"], by_name[f"{b}_2019"]], codelists)
    reference = one_by_one(batch, codelists, history)
    # the case is what it says: warnings, rejections and loaded resubmissions all occur
    rules = set().union(*(set(r.table["rule_id"]) for r in reference))
    assert {"plausibility.large_change", "plausibility.new_break", "value.missing"} <= rules
    assert [r.accepted for r in reference].count(False) >= 3
    alone = []
    real = validation.validate

    def counting(parsed, *args, **kwargs):
        alone.append(parsed)
        return real(parsed, *args, **kwargs)

    monkeypatch.setattr(validation, "validate", counting)
    assert_same(validate_batch(batch, codelists, history), reference)
    # validated alone: the repeated cell, two countries, dotted thousands, parts above totals
    assert len(alone) == 5
    monkeypatch.setattr(validation, "validate", real)
    assert_same(validate_batch(batch, codelists, None), one_by_one(batch, codelists, None))


@pytest.mark.slow  # reads every fixture, including 50 MB of junk, and validates each twice
def test_every_readable_fixture_in_one_batch(generated, codelists) -> None:
    paths = sorted((FIXTURES / "good").iterdir()) + sorted((FIXTURES / "bad").iterdir())
    readable = [p for p in (checking.read_file(path)[0] for path in paths) if p is not None]
    assert len(readable) > 30
    # fixtures between generated files, so that both kinds meet in one batch
    batch = [*generated[:4], *readable, *generated[4:]]
    history = history_from(generated[:1], codelists)
    assert_same(validate_batch(batch, codelists, history), one_by_one(batch, codelists, history))


def test_batch_of_clean_files_is_one_pass(generated, codelists, monkeypatch) -> None:
    """The common case does not fall back to ``validate`` file by file."""
    calls = []
    real = validation.validate

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    reference = one_by_one(generated, codelists, pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS)))
    monkeypatch.setattr(validation, "validate", counting)
    batch = validate_batch(generated, codelists, pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS)))
    assert calls == []
    assert_same(batch, reference)


def test_a_file_whose_validation_raises_gets_its_exception(generated, codelists, monkeypatch):
    real = validation.validate
    odd = replace(generated[1], layout="dataunodc")  # validated alone

    def failing(parsed, *args, **kwargs):
        if parsed is odd:
            raise TipstatsError("cannot validate this one")
        return real(parsed, *args, **kwargs)

    monkeypatch.setattr(validation, "validate", failing)
    outcomes = validate_batch([generated[0], odd, generated[2]], codelists, None)
    assert isinstance(outcomes[1], TipstatsError) and str(outcomes[1]) == "cannot validate this one"
    assert all(isinstance(o, validation.ValidationReport) for o in (outcomes[0], outcomes[2]))


def test_chain_groups_pack_whole_chains_in_file_order() -> None:
    countries = [["NLD"], ["FRA"], ["NLD"], ["DEU"], ["FRA", "BEL"], ["BEL"], ["ITA"], []]
    groups = checking.chain_groups(countries, 3)
    assert sorted(i for group in groups for i in group) == list(range(len(countries)))
    for group in groups:
        assert group == sorted(group)
        for chain in checking.chains(countries):  # a chain is never cut
            assert set(chain) <= set(group) or not set(chain) & set(group)
    # the longest chain (FRA, BEL: 3 files) first; then files packed up to 3 per group
    assert groups[0] == [1, 4, 5]
    assert all(len(group) <= 3 for group in groups)
    assert len(checking.chain_groups(countries, 100)) == 1


@pytest.mark.parametrize("step", ["_first_pass", "_plausibility"])
def test_a_failing_stacked_pass_costs_no_file_its_report(
    generated, codelists, monkeypatch, step: str
) -> None:
    from tipstats import validation_batch

    def broken(*args, **kwargs):
        raise ValueError("a bug in the stacked pass")

    batch = generated[:6]
    history = history_from(generated[:1], codelists)
    reference = one_by_one(batch, codelists, history)
    monkeypatch.setattr(validation_batch, step, broken)
    assert_same(validate_batch(batch, codelists, history), reference)
