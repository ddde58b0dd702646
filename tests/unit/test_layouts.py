from __future__ import annotations

import pandas as pd
import pytest

from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.layouts import (
    CENSORED_STATUS,
    DATAUNODC,
    DATAUNODC_COLUMNS,
    TEMPLATE,
    dataunodc_to_template,
    header_key,
    match_header,
)
from tipstats.readers import header_aliases

TEMPLATE_HEADER = list(C.TEMPLATE_COLUMNS)


def export(rows: list[dict[str, str]], first_row: int = 4) -> pd.DataFrame:
    """A dataUNODC frame: the export's 13 columns as text, defaults filled in, + source_row."""
    base = {
        "Iso3_code": "ARG",
        "Country": "Argentina",
        "Region": "Americas",
        "Subregion": "Latin America and the Caribbean",
        "Indicator": "Detected trafficking victims",
        "Dimension": "Total",
        "Category": "Total",
        "Sex": "Total",
        "Age": "Total",
        "Year": "2019",
        "Unit of measurement": "Counts",
        "txtVALUE": "1",
        "Source": "GLOTIP",
    }
    frame = pd.DataFrame([{**base, **row} for row in rows], columns=list(DATAUNODC_COLUMNS))
    frame[C.SOURCE_ROW] = pd.array(range(first_row, first_row + len(rows)), dtype="Int64")
    return frame


# --- headers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cell", "column"),
    [
        ("Country ", "country"),
        ("YEAR", "year"),
        ("Exploitation form", "exploitation"),
        ("exploitation_form", "exploitation"),
        ("Année", "year"),
        ("ANNEE", "year"),
        ("Forme d'exploitation", "exploitation"),
        ("Nationalité", "citizenship"),
        ("Año", "year"),
        ("Forma de explotación", "exploitation"),
        ("OBS_VALUE", "value"),
        ("\ufeffcountry", "country"),
    ],
)
def test_header_synonyms_map_to_template_columns(cell, column):
    header = [cell if c == column else c for c in TEMPLATE_HEADER]
    match = match_header(header, header_aliases())
    assert match.layout == TEMPLATE
    assert match.columns[TEMPLATE_HEADER.index(column)] == column
    assert not match.unknown
    assert match.missing() == []


def test_unknown_and_duplicate_header_cells():
    match = match_header(["country", "Region", "valeur", "value", ""], header_aliases())
    assert match.layout == TEMPLATE
    assert match.unknown == {1: "Region"}
    assert match.duplicates == {3: ("value", 2)}
    assert "year" in match.missing()


def test_a_data_row_is_not_a_header():
    match = match_header(["NLD", "2021", "VICTIMS_DETECTED", "F"], header_aliases())
    assert match.layout is None


def test_dataunodc_header_is_recognised_by_its_own_columns():
    match = match_header(list(DATAUNODC_COLUMNS), header_aliases())
    assert match.layout == DATAUNODC
    assert match.missing() == []
    lower = match_header([name.lower() for name in DATAUNODC_COLUMNS], header_aliases())
    assert lower.layout == DATAUNODC


def test_header_key_folds_case_accents_spacing():
    assert header_key("  Forme  d’Exploitation ") == header_key("forme d'exploitation")
    assert header_key("Iso3_code") == "iso3 code"


# --- dataUNODC -> template ----------------------------------------------------------------------
def test_dimension_category_mapped_onto_exploitation_or_citizenship():
    frame = export(
        [
            {"txtVALUE": "1,282"},
            {"Dimension": "by form of exploitation", "Category": "Forced labour"},
            {"Dimension": "by citizenship", "Category": "Marruecos", "Sex": "Female"},
        ]
    )
    out, report = dataunodc_to_template(frame)
    assert report.empty
    assert list(out.columns) == [*C.TEMPLATE_COLUMNS, C.SOURCE_ROW]
    assert list(out[C.EXPLOITATION]) == ["Total", "Forced labour", "Total"]
    assert list(out[C.CITIZENSHIP]) == ["Total", "Total", "Marruecos"]
    assert list(out[C.SEX]) == ["Total", "Total", "Female"]
    assert out[C.VALUE].iloc[0] == "1,282"  # kept as text
    assert list(out[C.STATUS]) == ["", "", ""]
    assert list(out[C.SOURCE]) == ["GLOTIP"] * 3
    assert list(out[C.SOURCE_ROW]) == [4, 5, 6]


def test_labels_produced_are_known_to_the_code_lists():
    codes = load_codelists()
    out, _ = dataunodc_to_template(
        export([{"Dimension": "by form of exploitation", "Category": "Sexual exploitation"}])
    )
    row = out.iloc[0]
    assert codes.lookup("exploitation", row[C.EXPLOITATION]) == "SEXUAL"
    assert codes.lookup("citizenship", row[C.CITIZENSHIP]) == C.TOTAL
    assert codes.lookup("source", row[C.SOURCE]) == "OTHER"
    assert CENSORED_STATUS in codes.codes("status")


def test_blank_iso3_falls_back_to_the_country_name():
    out, _ = dataunodc_to_template(export([{"Iso3_code": " ", "Country": "Argentina"}]))
    assert out[C.COUNTRY].iloc[0] == "Argentina"


def test_repatriation_rows_reported_and_left_out():
    frame = export(
        [
            {},
            {"Dimension": "by country of repatriation", "Category": "Abroad", "txtVALUE": "<5"},
        ]
    )
    out, report = dataunodc_to_template(frame)
    assert list(out[C.SOURCE_ROW]) == [4]
    assert report[["rule_id", "severity", "row", "value"]].values.tolist() == [
        ["dataunodc.repatriation_not_modelled", "warning", 5, "Abroad"]
    ]


def test_other_units_and_unknown_dimensions_reported_and_left_out():
    frame = export(
        [
            {"Unit of measurement": "Rate per 100,000 population"},
            {"Dimension": "by age group"},
            {},
        ]
    )
    out, report = dataunodc_to_template(frame)
    assert list(out[C.SOURCE_ROW]) == [6]
    assert sorted(zip(report["rule_id"], report["row"], strict=True)) == [
        ("dataunodc.unit_not_counts", 4),
        ("dataunodc.unknown_dimension", 5),
    ]


def test_subforms_of_other_forms_are_summed():
    other = {"Dimension": "by form of exploitation", "Category": "Other forms of exploitation"}
    frame = export(
        [
            {**other, "txtVALUE": "10"},
            {"Dimension": "by form of exploitation", "Category": "Forced labour"},
            {**other, "txtVALUE": "1,200"},
            {**other, "txtVALUE": "3", "Sex": "Female"},
        ]
    )
    out, report = dataunodc_to_template(frame)
    assert list(out[C.SOURCE_ROW]) == [4, 5, 7]
    summed = out[out[C.SOURCE_ROW] == 4].iloc[0]
    assert summed[C.VALUE] == "1210"
    assert summed[C.STATUS] == ""
    assert "rows 4, 6" in summed[C.COMMENT]
    assert report[["rule_id", "severity", "row", "column", "value"]].values.tolist() == [
        ["dataunodc.subforms_summed", "warning", 4, "value", "1210"]
    ]
    assert "rows 4, 6" in report["message"].iloc[0]


def test_a_censored_subform_makes_the_sum_censored_with_bounds():
    other = {"Dimension": "by form of exploitation", "Category": "Other forms of exploitation"}
    parts = [{**other, "txtVALUE": value} for value in ("7", "<5", "<5")]
    out, report = dataunodc_to_template(export(parts))
    assert len(out) == 1
    row = out.iloc[0]
    assert (row[C.VALUE], row[C.STATUS]) == ("", "C")
    assert "between 7 and 15" in row[C.COMMENT]
    assert "between 7 and 15" in report["message"].iloc[0]


def test_subforms_with_a_non_count_are_left_for_validation():
    other = {"Dimension": "by form of exploitation", "Category": "Other forms of exploitation"}
    frame = export([{**other, "txtVALUE": "7"}, {**other, "txtVALUE": "n.a."}])
    out, report = dataunodc_to_template(frame)
    assert list(out[C.VALUE]) == ["7", "n.a."]
    assert report.empty


def test_repeated_totals_are_not_treated_as_subforms():
    out, report = dataunodc_to_template(export([{"txtVALUE": "5"}, {"txtVALUE": "6"}]))
    assert list(out[C.VALUE]) == ["5", "6"]
    assert report.empty


def test_header_aliases_file_is_unambiguous():
    from tipstats.home import reference_dir

    table = pd.read_csv(reference_dir() / "header_aliases.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["column", "alias", "language"]
    assert set(table["column"]) == set(C.TEMPLATE_COLUMNS)
    assert set(table["language"]) <= {"en", "fr", "es"}
    keys = table.assign(key=table["alias"].map(header_key))
    per_key = keys.groupby("key")["column"].nunique()
    assert (per_key == 1).all(), per_key[per_key > 1]
    # no alias may be taken for a column of the dataUNODC export's own
    export_only = {header_key(name) for name in ("Dimension", "Category", "txtVALUE", "Iso3_code")}
    assert not export_only & set(keys["key"])
