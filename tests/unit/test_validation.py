from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.report_frame import empty_report
from tipstats.validation import ValidationReport, run_schema, validate

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "fixtures" / "bad"


@dataclass
class Parsed:
    """The reader contract (ParsedFile): text frame in the template layout + source_row."""

    frame: pd.DataFrame
    layout: str = "template"
    problems: pd.DataFrame = field(default_factory=empty_report)


def read_fixture(path: Path) -> Parsed:
    try:
        from tipstats.readers import read_submission
    except ImportError:  # until the readers land: the plainest reading of a clean template CSV
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame[C.SOURCE_ROW] = range(2, len(frame) + 2)
        return Parsed(frame)
    return read_submission(path)


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


def template(rows: list[dict], layout: str = "template") -> Parsed:
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
    frame = pd.DataFrame([{**base, **row} for row in rows])
    frame[C.SOURCE_ROW] = range(2, len(frame) + 2)
    return Parsed(frame, layout=layout)


# fixture -> (rule id, row, accepted): one file per kind of value-level defect.
BAD_FIXTURES = [
    ("negative_value.csv", "value.negative", 3, False),
    ("decimal_value.csv", "value.not_integer", 2, False),
    ("value_with_letters.csv", "value.not_a_number", 4, False),
    ("value_too_large.csv", "value.too_large", 2, False),
    ("thousands_ambiguous.csv", "value.thousands_ambiguous", 2, False),
    ("empty_value.csv", "value.missing", 3, True),
    ("value_with_status_missing.csv", "status.value_inconsistent", 2, False),
    ("year_out_of_range.csv", "year.out_of_range", 3, False),
    ("year_not_a_year.csv", "year.invalid", 2, False),
    ("unknown_sex_label.csv", "code.unknown", 3, False),
    ("unknown_indicator.csv", "code.unknown", 2, False),
    ("unknown_exploitation_label.csv", "code.unknown", 3, False),
    ("unknown_citizenship.csv", "code.unknown", 3, False),
    ("unknown_status.csv", "code.unknown", 2, False),
    ("unknown_source.csv", "code.unknown", 2, False),
    ("missing_sex_cell.csv", "cell.missing", 3, False),
    ("unknown_country.csv", "country.unknown", 2, False),
    ("two_countries.csv", "country.multiple", 4, False),
    ("duplicate_key.csv", "key.duplicate", 4, False),
    ("part_exceeds_total.csv", "identity.part_exceeds_total", 3, False),
    ("parts_exceed_total.csv", "identity.parts_exceed_total", 2, False),
    ("parts_unknown_mismatch.csv", "identity.parts_unknown_mismatch", 2, True),
    ("sex_age_inconsistent.csv", "identity.sex_age_inconsistent", 3, False),
    ("status_censored_with_value.csv", "status.value_inconsistent", 3, False),
    ("NLD_2021_rows_for_france.csv", "country.not_as_named", 2, False),
    ("workbook_negative_value.xlsx", "value.negative", 2, False),
]


@pytest.mark.parametrize(("name", "rule_id", "row", "accepted"), BAD_FIXTURES)
def test_each_bad_fixture_reports_its_rule_at_its_row(codelists, name, rule_id, row, accepted):
    report = validate(read_fixture(BAD / name), codelists)
    table = report.table
    assert set(table["rule_id"]) == {rule_id}, table.to_string()
    assert table["row"].tolist() == [row]
    assert report.accepted is accepted
    assert table["message"].str.len().min() > 20


def test_every_value_level_fixture_is_in_the_table():
    listed = {name for name, *_ in BAD_FIXTURES}
    ours = {p.name for p in BAD.iterdir() if p.name in listed}
    assert ours == listed


def test_a_clean_file_is_accepted_without_problems(codelists):
    parsed = template(
        [
            {"value": "120"},
            {"sex": "F", "value": "70"},
            {"sex": "Hommes", "value": "1,0"},  # decimal comma -> error
        ]
    )
    report = validate(parsed, codelists)
    assert report.table["rule_id"].tolist() == ["value.not_integer"]
    clean = template(
        [{"value": "120"}, {"sex": "F", "value": "70"}, {"sex": "Hombres", "value": "50"}]
    )
    report = validate(clean, codelists)
    assert report.accepted and report.table.empty
    assert len(report.observations) == 3


@pytest.mark.parametrize("written", ["1,282", "1 282", "1\u00a0282", "1282", "1282.0"])
def test_thousands_separators_are_accepted(codelists, written):
    report = validate(template([{"value": written}]), codelists)
    assert report.accepted, report.table.to_string()
    assert report.observations[C.VALUE].tolist() == [1282]


def test_dot_thousands_are_accepted_when_the_file_uses_them_unambiguously(codelists):
    parsed = template([{"value": "1.282.000"}, {"sex": "F", "value": "1.282"}])
    report = validate(parsed, codelists)
    assert report.accepted, report.table.to_string()
    assert report.observations[C.VALUE].tolist() == [1_282_000, 1282]


def test_censored_value_becomes_status_c_with_null_value(codelists):
    report = validate(template([{"value": "<5"}]), codelists)
    assert report.accepted
    obs = report.observations
    assert obs[C.STATUS].tolist() == ["C"] and obs[C.VALUE].isna().all()


def test_year_after_the_current_year_is_out_of_range(codelists):
    next_year = str(dt.date.today().year + 1)
    report = validate(template([{"year": next_year}]), codelists)
    assert report.table["rule_id"].tolist() == ["year.out_of_range"]


def test_unknown_label_message_lists_closest_codes(codelists):
    report = validate(template([{"sex": "Femal"}]), codelists)
    message = report.errors["message"].iloc[0]
    assert "`Femal`" in message and "F" in message.split("closest valid codes:")[1]


def test_censored_part_within_total_is_not_an_identity_error(codelists):
    # a part `<5` (0..4) against a total of 3 could be right: no error
    parsed = template([{"value": "3"}, {"sex": "F", "value": "<5"}])
    assert validate(parsed, codelists).accepted
    # a part of 9 against a total `<5` (at most 4) cannot
    parsed = template([{"value": "<5"}, {"sex": "F", "value": "9"}])
    report = validate(parsed, codelists)
    assert report.table["rule_id"].tolist() == ["identity.part_exceeds_total"]
    assert report.table["row"].tolist() == [3]


def test_complete_coarse_exploitation_breakdown_is_checked(codelists):
    parsed = template(
        [
            {"value": "100"},
            {"exploitation": "SEXUAL", "value": "50"},
            {"exploitation": "FORCED_LABOUR", "value": "20"},
            {"exploitation": "OTHER", "value": "10"},
        ]
    )
    report = validate(parsed, codelists)
    assert report.table["rule_id"].tolist() == ["identity.parts_unknown_mismatch"]
    assert report.accepted


def test_incomplete_breakdown_that_sums_below_the_total_is_fine(codelists):
    parsed = template([{"value": "100"}, {"sex": "F", "value": "50"}])
    assert validate(parsed, codelists).table.empty


def test_empty_file_and_missing_columns_are_structural_errors(codelists):
    empty = Parsed(pd.DataFrame(columns=[*C.TEMPLATE_COLUMNS, C.SOURCE_ROW]))
    report = validate(empty, codelists)
    assert report.table["rule_id"].tolist() == ["structure.no_data"]
    assert not report.accepted
    frame = template([{}]).frame.drop(columns=["sex"])
    report = validate(Parsed(frame), codelists)
    assert report.table["rule_id"].tolist() == ["structure.missing_column"]
    assert report.table["column"].tolist() == ["sex"]


def test_reader_problems_are_merged_into_the_report(codelists):
    parsed = template([{}])
    parsed.problems = pd.DataFrame(
        [
            {
                "rule_id": "structure.ragged_row",
                "severity": "error",
                "row": 7,
                "column": None,
                "value": "a,b",
                "message": "row 7 has 2 cells, the header 11",
            }
        ]
    )
    report = validate(parsed, codelists)
    assert report.table["rule_id"].tolist() == ["structure.ragged_row"]
    assert not report.accepted


def test_dataunodc_layout_sums_sub_forms_and_flags_instead_of_rejecting(codelists):
    rows = [
        {"country": "ALB", "exploitation": "_T", "value": "30"},
        {"country": "ALB", "exploitation": "Other forms of exploitation", "value": "20"},
        {"country": "ALB", "exploitation": "Begging", "value": "<5"},  # rolled up into OTHER
        {"country": "ALB", "exploitation": "Sexual exploitation", "value": "40"},
        {"country": "ARG", "citizenship": "Marruecos", "value": "2"},
        {"country": "ARG", "citizenship": "Planet Mars", "value": "3"},
        {"country": "ARG", "citizenship": "Atlantis", "value": "4"},
    ]
    report = validate(template(rows, layout="dataunodc"), codelists)
    assert report.accepted, report.errors.to_string()
    rules = report.table.set_index("row")["rule_id"]
    assert rules.loc[3] == "harmonize.duplicates_summed"
    assert "between 20 and 24" in report.table.loc[report.table["row"] == 3, "message"].iloc[0]
    assert set(report.table.loc[report.table["row"] == 7, "rule_id"]) == {
        "harmonize.unmapped_citizenship",
        "harmonize.duplicates_summed",  # two unknown citizenships, one UNKNOWN cell of 7
    }
    obs = report.observations
    assert obs.loc[obs[C.CITIZENSHIP] == C.UNKNOWN, C.VALUE].tolist() == [7]
    assert rules.loc[5] == "identity.part_exceeds_total"  # 40 > 30: flagged, not rejected
    assert set(report.warnings["rule_id"]) == set(report.table["rule_id"])


def test_dataunodc_total_repeated_as_a_category_is_kept_once(codelists):
    rows = [
        {"country": "BOL", "value": "397"},
        {"country": "BOL", "citizenship": "TOTAL", "value": "397"},
        {"country": "BOL", "citizenship": "Peru", "value": "12"},
    ]
    report = validate(template(rows, layout="dataunodc"), codelists)
    assert report.table["rule_id"].tolist() == ["harmonize.duplicates_repeated"]
    assert report.table["row"].tolist() == [2]
    obs = report.observations
    assert obs.loc[obs[C.CITIZENSHIP] == C.TOTAL, C.VALUE].tolist() == [397]


def history_frame(values: dict[int, int], status: str = "A") -> pd.DataFrame:
    rows = []
    for year, value in values.items():
        rows.append(
            {
                "country": "NLD",
                "year": year,
                "indicator": "VICTIMS_DETECTED",
                "sex": "_T",
                "age": "_T",
                "exploitation": "_T",
                "citizenship": "_T",
                "source": "POLICE",
                "value": value,
                "status": status,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("previous", "now", "rule"),
    [
        (100, 200, "plausibility.large_change"),
        (100, 40, "plausibility.large_change"),
        (30, 0, "plausibility.drop_to_zero"),
        (10, 25, None),  # +150 % but only 15 persons
        (100, 140, None),  # +40 persons but only 40 %
        (100, 121, None),
    ],
)
def test_plausibility_against_history(codelists, previous, now, rule):
    report = validate(template([{"value": str(now)}]), codelists, history_frame({2020: previous}))
    expected = [] if rule is None else [rule]
    assert report.table["rule_id"].tolist() == expected
    assert report.accepted
    if rule:
        assert report.table["row"].tolist() == [2]


def test_plausibility_needs_history(codelists):
    assert validate(template([{"value": "0"}]), codelists, None).table.empty


def test_new_break_is_flagged_only_when_new(codelists):
    parsed = template([{"value": "100", "status": "B"}])
    report = validate(parsed, codelists, history_frame({2020: 95}))
    assert report.table["rule_id"].tolist() == ["plausibility.new_break"]
    known = history_frame({2021: 100}, status="B")
    assert validate(parsed, codelists, known).table.empty


def test_report_counts_and_json(codelists):
    report = validate(read_fixture(BAD / "value_with_letters.csv"), codelists)
    counts = report.counts_by_rule()
    assert counts.to_dict("records") == [
        {"rule_id": "value.not_a_number", "severity": "error", "count": 1}
    ]
    payload = report.to_dict()
    assert payload["accepted"] is False and payload["n_errors"] == 1
    assert payload["problems"][0]["row"] == 4


def test_run_schema_maps_pandera_failures_to_rule_ids():
    import pandera.pandas as pa

    schema = pa.DataFrameSchema(
        {"value": pa.Column(str, pa.Check(lambda s: s != "x", name="value.not_a_number"))},
        strict=True,
    )
    frame = pd.DataFrame({"value": ["1", "x"], "extra": ["a", "b"]})
    report = run_schema(schema, frame, pd.Series([10, 11]))
    got = set(zip(report["rule_id"], report["row"].astype(object), strict=True))
    assert ("value.not_a_number", 11) in got
    assert any(rule == "structure.unknown_column" for rule, _ in got)


def test_validation_report_properties():
    table = pd.DataFrame(
        {
            "rule_id": ["a.b", "c.d", "c.d"],
            "severity": ["warning", "error", "error"],
            "row": [2, 3, 4],
            "column": ["x", "y", "y"],
            "value": ["1", "2", "3"],
            "message": ["m", "n", "n"],
        }
    )
    report = ValidationReport(table=table)
    assert not report.accepted
    assert len(report.errors) == 2 and len(report.warnings) == 1
    assert report.counts_by_rule()["rule_id"].tolist() == ["c.d", "a.b"]


# --- every rule the code can emit is documented for the NSO officer ------------------------------
RULE_PATTERN = re.compile(
    r"\"((?:structure|cell|year|value|code|country|key|identity|plausibility|harmonize|status|"
    r"schema|file|dataunodc)\.[a-z0-9_]+)\""
)
SOURCES = [
    ROOT / "src" / "tipstats" / "readers.py",
    ROOT / "src" / "tipstats" / "layouts.py",
    ROOT / "src" / "tipstats" / "validation.py",
    ROOT / "src" / "tipstats" / "harmonize.py",
    ROOT / "src" / "tipstats" / "identities.py",
    ROOT / "schemas" / "template.py",
    ROOT / "schemas" / "observation.py",
]


def emitted_rule_ids() -> set[str]:
    rules: set[str] = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        rules |= set(RULE_PATTERN.findall(text))
        rules |= {f"harmonize.unmapped_{d}" for d in C.BREAKDOWN_DIMENSIONS}
    return rules


def test_every_rule_id_is_documented():
    doc = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    rules = emitted_rule_ids()
    assert len(rules) > 45
    assert {"file.zip_bomb", "structure.ragged_row", "dataunodc.subforms_summed"} <= rules
    missing = sorted(rule for rule in rules if f"`{rule}`" not in doc)
    assert not missing, f"rule ids missing from docs/validation.md: {missing}"


def test_file_named_after_a_country_must_report_it(codelists, tmp_path):
    body = "country,year,indicator,sex,age,exploitation,citizenship,value\n"
    row = ",2021,VICTIMS_DETECTED,_T,_T,_T,_T,10\n"
    for name, rows, expected in [
        ("NLD_2021.csv", "FRA" + row, [("country.not_as_named", 2)]),
        ("NLD-2021 final.csv", "FRA" + row, [("country.not_as_named", 2)]),
        ("NLD_2021.csv", "NLD" + row, []),
        ("nld_2021.csv", "FRA" + row, []),  # only an upper-case ISO3 code declares a country
        ("XYZ_2021.csv", "FRA" + row, []),  # not a country
        ("NLD.csv", "FRA" + row, []),  # no year: not the naming scheme
    ]:
        path = tmp_path / name
        path.write_text(body + rows, encoding="utf-8")
        table = validate(read_fixture(path), codelists).table
        assert list(zip(table["rule_id"], table["row"], strict=True)) == expected, name
