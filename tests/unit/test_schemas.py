from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from schemas.observation import Observation, observation_schema
from schemas.template import TemplateColumns, TemplateText, template_schema
from tipstats import columns as C
from tipstats.codelists import load_codelists


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


def text_frame(rows: list[dict]) -> pd.DataFrame:
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
    return pd.DataFrame([{**base, **row} for row in rows])


def failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> set[tuple[str, object]]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return set(zip(cases["check"].astype(str), cases["index"], strict=True))
    return set()


def test_layers_inherit_the_shared_columns():
    assert issubclass(TemplateText, TemplateColumns)
    assert issubclass(Observation, TemplateColumns)
    shared = set(TemplateColumns.to_schema().columns)
    assert shared <= set(TemplateText.to_schema().columns)
    assert shared <= set(Observation.to_schema().columns)


def test_template_checks_are_named_by_rule_id():
    frame = text_frame(
        [
            {"value": "-3"},
            {"value": "2.5"},
            {"value": "abc"},
            {"value": "1.282"},
            {"year": "1999"},
            {"year": "20"},
            {"sex": ""},
            {"value": "1,282"},
        ]
    )
    got = failures(TemplateText.to_schema(), frame)
    assert got == {
        ("value.negative", 0),
        ("value.not_integer", 1),
        ("value.not_a_number", 2),
        ("value.thousands_ambiguous", 3),
        ("year.out_of_range", 4),
        ("year.invalid", 5),
        ("cell.missing", 6),
    }


def test_template_is_strict_about_columns():
    frame = text_frame([{}]).drop(columns=["age"]).assign(notes="x")
    got = {check for check, _ in failures(TemplateText.to_schema(), frame)}
    assert got == {"column_in_dataframe", "column_in_schema"}


def test_optional_template_columns_may_be_absent():
    frame = text_frame([{}]).drop(columns=["status", "source", "comment"])
    assert failures(TemplateText.to_schema(), frame) == set()


def test_template_schema_checks_codes_from_the_code_lists(codelists):
    frame = text_frame([{"sex": "Femmes"}, {"sex": "Femal"}, {"country": "Atlantis"}])
    got = failures(template_schema(codelists), frame)
    assert got == {("code.unknown", 1), ("country.unknown", 2)}


def test_dataunodc_citizenship_is_free_text(codelists):
    frame = text_frame([{"citizenship": "Planet Zork"}])
    assert failures(template_schema(codelists, "template"), frame) == {("code.unknown", 0)}
    assert failures(template_schema(codelists, "dataunodc"), frame) == set()


def observations(rows: list[dict]) -> pd.DataFrame:
    base = {
        "country": "NLD",
        "year": 2021,
        "indicator": "VICTIMS_DETECTED",
        "sex": "_T",
        "age": "_T",
        "exploitation": "_T",
        "citizenship": "_T",
        "source": "POLICE",
        "value": 10,
        "status": "A",
        "comment": None,
        "source_row": 2,
    }
    frame = pd.DataFrame([{**base, **row} for row in rows])
    frame[C.VALUE] = frame[C.VALUE].astype("Int64")
    return frame[list(C.OBSERVATION_COLUMNS)]


def test_valid_observations_pass(codelists):
    frame = observations(
        [
            {},
            {"sex": "F", "value": 6},
            {"sex": "M", "value": None, "status": "C"},
            {"citizenship": "MAR", "value": 2},
        ]
    )
    validated = observation_schema(codelists).validate(frame, lazy=True)
    assert len(validated) == 4


def test_observation_rules(codelists):
    frame = observations(
        [
            {"value": 10},
            {"sex": "F", "value": 12},  # part > total
            {"sex": "X"},  # not a code
            {"age": "Y0T17", "value": -1},  # negative
            {"age": "Y_GE18", "value": None, "status": "A"},  # empty without M/C
            {"country": "ZZZ", "citizenship": "NATIONALS"},
        ]
    )
    checks = {check for check, _ in failures(observation_schema(codelists), frame)}
    assert "identity.part_exceeds_total" in checks
    assert "status.value_inconsistent" in checks
    assert any(check.startswith("isin") for check in checks)
    assert any(check.startswith("greater_than_or_equal_to") for check in checks)


def test_observation_key_is_unique(codelists):
    frame = observations([{}, {}])
    with pytest.raises(pa.errors.SchemaErrors) as raised:
        observation_schema(codelists).validate(frame, lazy=True)
    assert set(raised.value.failure_cases["check"]) == {"multiple_fields_uniqueness"}
