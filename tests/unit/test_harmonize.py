from __future__ import annotations

import pandas as pd
import pytest

from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.harmonize import (
    CENSORED,
    COUNT,
    DECIMAL,
    MISSING,
    NEGATIVE,
    NOT_A_NUMBER,
    THOUSANDS_AMBIGUOUS,
    TOO_LARGE,
    classify_counts,
    harmonize,
    parse_years,
)


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


def frame(rows: list[dict]) -> pd.DataFrame:
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
    out = pd.DataFrame([{**base, **row} for row in rows])
    out[C.SOURCE_ROW] = range(2, len(out) + 2)
    return out


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("12", COUNT, 12),
        (" 12 ", COUNT, 12),
        ("1,282", COUNT, 1282),
        ("1 282", COUNT, 1282),
        ("1\u202f282", COUNT, 1282),
        ("12,345,678", COUNT, 12_345_678),
        ("1.282.000", COUNT, 1_282_000),
        ("7.0", COUNT, 7),
        ("<5", CENSORED, None),
        ("< 5", CENSORED, None),
        ("", MISSING, None),
        (None, MISSING, None),
        ("-1", NEGATIVE, None),
        ("3.5", DECIMAL, None),
        ("3,5", DECIMAL, None),
        ("1.282", THOUSANDS_AMBIGUOUS, None),
        ("12a", NOT_A_NUMBER, None),
        ("n/a", NOT_A_NUMBER, None),
        ("<10", NOT_A_NUMBER, None),
        ("99999999999", TOO_LARGE, None),
    ],
)
def test_classify_counts(text, kind, value):
    result = classify_counts(pd.Series([text], dtype=object))
    assert result["kind"].iloc[0] == kind
    got = result["value"].iloc[0]
    assert (pd.isna(got) and value is None) or got == value


def test_a_single_dotted_number_is_thousands_when_the_file_says_so():
    result = classify_counts(pd.Series(["1.282", "2.000.000"]))
    assert result["value"].tolist() == [1282, 2_000_000]


def test_parse_years():
    years = parse_years(pd.Series(["2019", "2019.0", "19", "", "20l9"]))
    assert years.tolist()[:2] == [2019, 2019]
    assert years.iloc[2:].isna().all()


def test_labels_in_three_languages_become_codes(codelists):
    rows = [
        {"country": "Netherlands", "sex": "Femmes", "age": "Niños", "value": "5"},
        {"country": "NL", "sex": "Hombres", "age": "Adults", "exploitation": "Travail forcé"},
        {"country": "528", "indicator": "Persons convicted", "source": "Ministerio Público"},
    ]
    obs, report = harmonize(frame(rows), "template", codelists)
    assert report.empty
    assert obs[C.COUNTRY].tolist() == ["NLD", "NLD", "NLD"]
    assert obs[C.SEX].tolist() == ["F", "M", "_T"]
    assert obs[C.AGE].tolist() == ["Y0T17", "Y_GE18", "_T"]
    assert obs[C.EXPLOITATION].tolist() == ["_T", "FORCED_LABOUR", "_T"]
    assert obs[C.INDICATOR].tolist()[2] == "PERSONS_CONVICTED"
    assert obs[C.SOURCE].tolist() == ["POLICE", "POLICE", "PROSECUTION"]
    assert list(obs.columns) == list(C.OBSERVATION_COLUMNS)


def test_text_becomes_integers_with_status(codelists):
    rows = [
        {"value": "1,282"},
        {"sex": "F", "value": "<5"},
        {"sex": "M", "value": ""},
        {"sex": "OTHER", "value": "7", "status": "Estimated"},
        {"sex": "UNKNOWN", "value": "", "status": "M"},
    ]
    obs, _ = harmonize(frame(rows), "template", codelists)
    assert obs[C.VALUE].tolist()[0] == 1282 and obs[C.VALUE].tolist()[3] == 7
    assert obs[C.VALUE].iloc[[1, 2, 4]].isna().all()
    assert obs[C.STATUS].tolist() == ["A", "C", "M", "E", "M"]
    assert str(obs[C.VALUE].dtype) == "Int64"


def test_unmapped_citizenship_is_unknown_with_the_original_text_quoted(codelists):
    rows = [{"citizenship": "Marruecos", "value": "3"}, {"citizenship": "Planet Zork"}]
    obs, report = harmonize(frame(rows), "dataunodc", codelists)
    assert obs[C.CITIZENSHIP].tolist() == ["MAR", "UNKNOWN"]
    assert report["rule_id"].tolist() == ["harmonize.unmapped_citizenship"]
    assert report["row"].tolist() == [3]
    assert "`Planet Zork`" in report["message"].iloc[0]
    assert report["severity"].iloc[0] == "warning"


def test_broken_encodings_of_countries_are_mapped(codelists):
    rows = [{"citizenship": "CÃ´te d'Ivoire"}, {"citizenship": "Nationals", "sex": "F"}]
    obs, report = harmonize(frame(rows), "dataunodc", codelists)
    assert obs[C.CITIZENSHIP].tolist() == ["CIV", "NATIONALS"]
    assert report.empty


def test_rows_that_cannot_be_placed_are_reported_not_dropped_silently(codelists):
    rows = [{"value": "12a"}, {"country": "Atlantis"}, {"year": "yesteryear"}, {"sex": "F"}]
    obs, report = harmonize(frame(rows), "template", codelists)
    assert obs[C.SOURCE_ROW].tolist() == [5]
    assert report["rule_id"].tolist() == ["harmonize.row_not_loaded"] * 3
    assert report["row"].tolist() == [2, 3, 4]
    assert "`Atlantis`" in report["message"].iloc[1]


def test_exploitation_rolled_up_where_the_source_is_coarser(codelists):
    rows = [
        {"exploitation": "Begging", "value": "3"},
        {"exploitation": "Forced marriage", "value": "4"},
        {"exploitation": "Sexual exploitation", "value": "9"},
    ]
    obs, report = harmonize(frame(rows), "dataunodc", codelists)
    assert sorted(zip(obs[C.EXPLOITATION], obs[C.VALUE], strict=True)) == [
        ("OTHER", 7),
        ("SEXUAL", 9),
    ]
    assert report["rule_id"].tolist() == ["harmonize.duplicates_summed"]
    # the template keeps the detail
    obs, _ = harmonize(frame(rows), "template", codelists)
    assert obs[C.EXPLOITATION].tolist() == ["BEGGING", "FORCED_MARRIAGE", "SEXUAL"]


def test_sum_with_a_censored_part_is_censored_with_bounds(codelists):
    rows = [
        {"exploitation": "Begging", "value": "3"},
        {"exploitation": "Forced marriage", "value": "<5"},
    ]
    obs, report = harmonize(frame(rows), "dataunodc", codelists)
    assert obs[C.VALUE].isna().all() and obs[C.STATUS].tolist() == ["C"]
    assert "between 3 and 7" in report["message"].iloc[0]


def test_missing_source_is_other_and_unknown_source_warned(codelists):
    rows = [{"source": ""}, {"sex": "F", "source": "Oracle"}]
    obs, report = harmonize(frame(rows), "template", codelists)
    assert obs[C.SOURCE].tolist() == ["OTHER", "OTHER"]
    assert report["rule_id"].tolist() == ["harmonize.unmapped_source"]


def test_harmonized_frame_passes_the_observation_schema(codelists):
    from schemas.observation import observation_schema

    rows = [{"value": "10"}, {"sex": "F", "value": "<5"}, {"sex": "M", "value": "6"}]
    obs, _ = harmonize(frame(rows), "template", codelists)
    observation_schema(codelists).validate(obs, lazy=True)


def test_harmonize_merges_40_000_repeated_rows_into_their_40_cells(codelists):
    big = pd.concat([frame([{"value": "1,282"}, {"sex": "F", "value": "<5"}])] * 20_000)
    big[C.SOURCE_ROW] = range(2, len(big) + 2)
    big[C.YEAR] = (2000 + (pd.Series(range(len(big))) // 2) % 20).astype(str).to_numpy()
    obs, _ = harmonize(big, "template", codelists)
    assert len(obs) == 40


def test_duplicated_keys_is_pandas_duplicated():
    import numpy as np

    from tipstats.harmonize import duplicated_keys

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "a": pd.array(rng.choice(["x", "y", None], 40), dtype="string"),
            "b": pd.Series(rng.integers(0, 4, 40), dtype="Int64").where(
                rng.random(40) > 0.1, pd.NA
            ),
            "c": rng.choice(["p", "q"], 40),
        }
    )
    expected = frame.duplicated(["a", "b", "c"], keep=False)
    pd.testing.assert_series_equal(duplicated_keys(frame, ["a", "b", "c"]), expected)
    assert 0 < expected.sum() < 40
