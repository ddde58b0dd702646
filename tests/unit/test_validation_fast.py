"""The shortcuts of ``tipstats.validation`` against the plain way they replace (issue 8)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.harmonize import code_frame, harmonize_coded
from tipstats.identities import categorical_keys
from tipstats.readers import read_submission
from tipstats.report_frame import empty_report
from tipstats.validation import (
    _MANY_ROWS,
    _failing_by_pandera,
    _failing_cells,
    _keys_as_categories,
    _template_schema,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "good").glob("*")) + sorted(
    (ROOT / "tests" / "fixtures" / "bad").glob("*")
)


@dataclass
class Parsed:
    """The reader contract (ParsedFile): text frame in the template layout + source_row."""

    frame: pd.DataFrame
    layout: str = "template"
    problems: pd.DataFrame = field(default_factory=empty_report)


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


def _same_failures(check: pa.Check, values: pd.Series) -> pd.Series | None:
    direct = _failing_cells(check, values)
    plain = _failing_by_pandera(check, values)
    if plain is None:
        assert direct is None
    else:
        assert direct is not None
        pd.testing.assert_series_equal(direct, plain, check_names=False)
    return plain


MESSY = [
    "NLD",
    "",
    " F ",
    "Femme",
    "XX",
    "2021",
    "20x1",
    "1999",
    "2099",
    "-3",
    "1.5",
    "abc",
    "1.282",
    "<5",
    "1,234",
    "99999999999",
    "2.0",
    "_T",
    "VICTIMS_DETECTED",
    "M",
    "POLICE",
]


@pytest.mark.parametrize("layout", ["template", "dataunodc"])
def test_each_schema_check_fails_the_same_cells_as_through_pandera(codelists, layout):
    schema = _template_schema(codelists, layout)
    n_checks = 0
    for column in schema.columns.values():
        values = pd.Series(MESSY, index=np.arange(10, 10 + len(MESSY)), dtype="string[pyarrow]")
        for check in column.checks:
            _same_failures(check, values)
            n_checks += 1
    assert n_checks > 15


def test_checks_on_columns_with_nulls_or_odd_outputs_go_through_pandera():
    values = pd.Series(["a", None, "b", "c"], dtype="string[pyarrow]")
    check = pa.Check(lambda s: s != "b", name="not_b")  # nullable boolean output, nulls given
    assert _same_failures(check, values).tolist() == ["b"]
    no_nulls = values.fillna("")
    nullable = pa.Check(lambda s: s.str.len() < pd.NA, name="unknown")  # every verdict null
    _same_failures(nullable, no_nulls)
    scalar = pa.Check(lambda s: bool((s != "zzz").all()), name="scalar")
    assert _failing_cells(scalar, no_nulls) is None
    element = pa.Check(lambda v: v != "c", element_wise=True, name="element")
    assert _same_failures(element, no_nulls).tolist() == ["c"]
    capped = pa.Check(lambda s: s == "", n_failure_cases=1, name="capped")
    _same_failures(capped, no_nulls)
    numpy_bool = pa.Check(lambda s: (s != "a").to_numpy(dtype=bool), name="array")
    with pytest.raises(NotImplementedError):  # pandera's answer to an array, left to pandera
        _failing_cells(numpy_bool, no_nulls)


def test_validating_a_file_does_not_load_pandera_backends(tmp_path):
    """pandera's backends import hypothesis: a fifth of a second of every ``tipstats validate``."""
    sample = ROOT / "tests" / "fixtures" / "bad"
    files = sorted(sample.glob("*.csv"))[:5]
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tipstats.reports import validate_file\n"
        f"for name in {[str(f) for f in files]!r}:\n"
        f"    validate_file(Path(name), Path({str(tmp_path)!r}))\n"
        "print('pandera.backends.pandas.register' in sys.modules, 'hypothesis' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.split() == ["False", "False"]


# --- duplicate keys: numbered once per text, and once for both duplicate rules -----------------
def _frames_with_repeats() -> list[pd.DataFrame]:
    """Template frames with repeated cells, sub-forms, unknown labels and blank keys."""
    base = {
        "country": "NLD",
        "year": "2021",
        "indicator": "VICTIMS_DETECTED",
        "sex": "_T",
        "age": "_T",
        "exploitation": "_T",
        "citizenship": "_T",
        "value": "10",
        "status": "",
        "source": "POLICE",
        "comment": "",
    }
    variants = [
        {},
        {"sex": "F"},
        {"sex": "Female"},  # the same cell as F, in a label
        {"sex": "femme"},
        {"sex": "XX"},  # unknown: UNKNOWN in the observation
        {"sex": ""},
        {"citizenship": "Martian"},
        {"citizenship": "UNK"},
        {"source": ""},  # OTHER
        {"source": "OTHER"},
        {"source": "nowhere"},
        {"year": "20x1"},
        {"country": "Atlantis"},
        {"exploitation": "SEXUAL"},
        {"exploitation": "FORCED_LABOUR"},
        {"value": "<5"},
        {"value": "abc"},
    ]
    rng = np.random.default_rng(5)
    frames = []
    for n in (1, 7, 40, 400):
        picks = rng.integers(0, len(variants), size=n)
        frame = pd.DataFrame([{**base, **variants[i]} for i in picks])
        frame["year"] = np.where(rng.random(n) < 0.7, frame["year"], "2020")
        frame[C_SOURCE_ROW] = range(2, n + 2)
        frames.append(frame)
    return frames


C_SOURCE_ROW = "source_row"


@pytest.fixture
def checked_duplicates(monkeypatch):
    """Every call of the fast duplicate finders also runs the plain one and compares."""
    from tipstats import harmonize, validation

    calls = {"rows": 0, "cells": 0}
    fast_rows = harmonize._duplicated_rows
    fast_cells = validation._repeated_cells

    def rows(obs, columns, factors, n_text):
        found = fast_rows(obs, columns, factors, n_text)
        pd.testing.assert_series_equal(found, harmonize.duplicated_keys(obs, columns))
        calls["rows"] += 1
        return found

    def cells(keys, complete):
        validation._LAST_REPEATED.clear()
        later, shared = fast_cells(keys, complete)
        expected_later = pd.Series(keys[complete]).duplicated(keep="first").to_numpy()
        expected_shared = complete & pd.Series(keys).duplicated(keep=False).to_numpy()
        np.testing.assert_array_equal(later, expected_later)
        np.testing.assert_array_equal(shared, expected_shared)
        calls["cells"] += 1
        return later, shared

    monkeypatch.setattr(harmonize, "_duplicated_rows", rows)
    monkeypatch.setattr(validation, "_repeated_cells", cells)
    return calls


def test_duplicates_found_by_text_equal_the_plain_search_on_frames(codelists, checked_duplicates):
    n_repeated = 0
    for frame in _frames_with_repeats():
        for layout in ("template", "dataunodc"):
            report = validate(Parsed(frame, layout=layout), codelists)
            n_repeated += int(report.table["rule_id"].str.startswith("key.duplicate").sum())
    assert checked_duplicates["rows"] >= 8 and checked_duplicates["cells"] >= 4
    assert n_repeated > 50  # the frames do repeat cells


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_takes_the_shortcuts_with_the_same_results(
    codelists, checked_duplicates, path
):
    """Schema checks called directly and duplicates found by text, on every fixture."""
    parsed = read_submission(path)
    schema = _template_schema(codelists, parsed.layout)
    for name, column in schema.columns.items():
        if name not in parsed.frame.columns:
            continue
        values = parsed.frame[name].fillna("").astype("string[pyarrow]")
        for check in column.checks:
            _same_failures(check, values)
    validate(parsed, codelists)


# --- the identity rules' categorical keys, read off the factors ----------------------------------
@pytest.fixture(scope="module")
def world(codelists) -> pd.DataFrame:
    """A generated multi-country frame of more than ``_MANY_ROWS`` rows, written in codes."""
    from tipstats.sample_files import read_profile
    from tipstats.synthetic import synthetic_submissions, with_labels

    frame = synthetic_submissions(codelists, read_profile(), 12, list(range(2010, 2025)), seed=3)
    assert len(frame) > _MANY_ROWS
    return frame.assign(
        **{
            column: pd.array(frame[column].to_numpy(dtype=object), dtype="str")
            for column in frame.columns
        }
    ), with_labels(frame, codelists, "fr")


def _coded_and_observations(frame: pd.DataFrame, codelists, layout: str = "template"):
    coded = code_frame(frame.assign(source_row=np.arange(2, len(frame) + 2)), codelists)
    observations, _ = harmonize_coded(coded, layout, codelists)
    return coded, observations


EDITS = ["none", "unmapped, one row per cell", "unknown labels", "blank cells", "repeated cells"]


@pytest.mark.parametrize("language", ["codes", "fr"])
@pytest.mark.parametrize("edit", EDITS)
def test_keys_as_categories_equal_pandas_categoricals(codelists, world, language, edit):
    frame = (world[0] if language == "codes" else world[1]).copy()
    rng = np.random.default_rng(11)
    rows = rng.choice(len(frame), size=300, replace=False)
    if edit == "unknown labels":
        frame.loc[rows[:100], "sex"] = "XX"
        frame.loc[rows[100:200], "citizenship"] = "Martian"
        frame.loc[rows[200:], "source"] = "nowhere"
    elif edit == "unmapped, one row per cell":  # unknown where the cell was UNKNOWN already
        unknown = world[0]["sex"].to_numpy() == C.UNKNOWN
        frame.loc[unknown, "sex"] = "XX"
    elif edit == "blank cells":
        frame.loc[rows[:150], "age"] = ""
        frame.loc[rows[150:], "source"] = ""
    elif edit == "repeated cells":
        frame = pd.concat([frame, frame.iloc[rows]], ignore_index=True)
    coded, observations = _coded_and_observations(frame, codelists)
    fast = _keys_as_categories(observations, coded)
    expected = categorical_keys(observations)
    if edit in ("none", "unmapped, one row per cell"):
        assert isinstance(fast["sex"].dtype, pd.CategoricalDtype)
    if edit == "repeated cells" or len(observations) < len(frame):
        assert fast is observations  # rows merged or not loaded: not one observation per row
    pd.testing.assert_frame_equal(categorical_keys(fast), expected, check_exact=True)


def test_keys_as_categories_leave_small_or_reordered_frames_alone(codelists, world):
    coded, observations = _coded_and_observations(world[0].head(500), codelists)
    assert _keys_as_categories(observations, coded) is observations
    coded, observations = _coded_and_observations(world[0], codelists)
    shuffled = observations.iloc[::-1].reset_index(drop=True)
    assert _keys_as_categories(shuffled, coded) is shuffled


# --- country.multiple from the country column's factor --------------------------------------------
@pytest.mark.parametrize(
    "countries",
    [
        ["NLD"] * 5,
        ["NLD", "FRA", "NLD", "SEN"],
        ["", "Atlantis", "FRA", "NLD", "France", "FRA"],  # blank and unknown first
        ["France", "NLD", "FRA", "Pays-Bas", "SEN", "Sénégal"],  # one code, several texts
        ["", ""],
        ["Atlantis", "SEN"],
    ],
)
def test_country_multiple_from_the_factor_equals_grouping_the_cells(codelists, countries):
    from tipstats.harmonize import CodedFrame
    from tipstats.validation import _one_country

    frame = pd.DataFrame({"country": countries})
    for column in ("year", "indicator", "sex", "age", "exploitation", "citizenship"):
        frame[column] = "2021" if column == "year" else "_T"
    frame["indicator"] = "VICTIMS_DETECTED"
    frame["value"] = "1"
    frame["source_row"] = np.arange(5, 5 + len(frame))
    coded = code_frame(frame, codelists)
    plain = CodedFrame(
        text=coded.text,
        codes=coded.codes,
        factors={k: v for k, v in coded.factors.items() if k != "country"},
    )
    fast = _one_country(coded, "template")
    pd.testing.assert_frame_equal(fast, _one_country(plain, "template"))
    n_codes = coded.codes["country"].dropna().nunique()
    assert len(fast) == max(n_codes - 1, 0)
