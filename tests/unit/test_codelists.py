"""Look-ups: codes and labels in three languages, NSO variants, countries, suggestions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tipstats.codelists import load_codelists, normalize_label
from tipstats.home import reference_dir

FIXTURE = Path(__file__).parents[1] / "fixtures" / "glotip_sample6.csv"


@pytest.fixture(scope="module")
def lists():
    return load_codelists()


@pytest.mark.parametrize(
    ("dimension", "text", "code"),
    [
        ("sex", "Female", "F"),
        ("sex", "F", "F"),
        ("sex", "femme", "F"),
        ("sex", "MUJER", "F"),
        ("sex", "women", "F"),
        ("sex", "Hombres", "M"),
        ("sex", "Total", "_T"),
        ("age", "0 to 17 years", "Y0T17"),
        ("age", "<18", "Y0T17"),
        ("age", "children", "Y0T17"),
        ("age", "menores", "Y0T17"),
        ("age", "18 years or over", "Y_GE18"),
        ("exploitation", "Trata con fines de explotación sexual", "SEXUAL"),
        ("exploitation", "trata con fines de explotacion  SEXUAL", "SEXUAL"),
        ("exploitation", "Sexual exploitation", "SEXUAL"),
        ("exploitation", "Forced labour", "FORCED_LABOUR"),
        ("exploitation", "Other forms of exploitation", "OTHER"),
        ("exploitation", "Unknown", "UNKNOWN"),
        ("indicator", "Detected trafficking victims", "VICTIMS_DETECTED"),
        ("indicator", "Persons convicted", "PERSONS_CONVICTED"),
        ("indicator", "Persons prosecuted", "PERSONS_PROSECUTED"),
        ("indicator", "Persons brought into formal contact", "PERSONS_FORMAL_CONTACT"),
        ("indicator", "Offences of trafficking in persons", "OFFENCES_RECORDED"),
        ("citizenship", "Nationals", "NATIONALS"),
        ("citizenship", "Marruecos", "MAR"),
        ("citizenship", "Côte d'Ivoire", "CIV"),
        ("citizenship", "CÃ´te d'Ivoire", "CIV"),
        ("citizenship", "ROU", "ROU"),
        ("source", "police", "POLICE"),
        ("status", "C", "C"),
    ],
)
def test_lookup(lists, dimension, text, code):
    assert lists.lookup(dimension, text) == code


def test_lookup_never_guesses(lists):
    assert lists.lookup("sex", "girls") is None
    assert lists.lookup("exploitation", "something else entirely") is None
    assert lists.lookup("citizenship", "Other Europe") in (None, "UNKNOWN")


@pytest.mark.parametrize(
    "text",
    # Reviewed against the real export: GBR 2019 lists "Nationality" (16) next to
    # "United Kingdom" (2,864), so it is not the nationals; former federations may be
    # nationals or foreigners depending on who reports.
    [
        "Nationality",
        "Former Yugoslavia",
        "Former Czechoslovakia",
        "The former Netherlands Antilles",
    ],
)
def test_ambiguous_citizenships_are_unknown_not_guessed(lists, text):
    assert lists.lookup("citizenship", text) == "UNKNOWN"


def test_congolese_is_flagged_as_doubtful_in_the_reviewed_map(lists):
    names = lists.country_names.set_index("label")
    assert names.loc["Congolese", "note"].startswith("doubtful")


def test_lookup_rejects_unknown_dimension(lists):
    with pytest.raises(KeyError, match="unknown dimension"):
        lists.lookup("colour", "red")


def test_label_in_three_languages(lists):
    assert lists.label("sex", "F") == "Female"
    assert lists.label("sex", "F", "fr") != lists.label("sex", "F", "es")
    with pytest.raises(KeyError):
        lists.label("sex", "X")


def test_every_label_looks_up_its_own_code(lists):
    for row in lists.code_table.itertuples():
        for text in (row.code, row.label_en, row.label_fr, row.label_es):
            assert lists.lookup(row.dimension, text) == row.code, (row.dimension, text)


def test_closest_suggests_the_intended_code(lists):
    assert lists.closest("sex", "Femal")[0] == "F"
    assert "FORCED_LABOUR" in lists.closest("exploitation", "forced labor")
    assert len(lists.closest("age", "zzzz", n=2)) <= 2


def test_normalize_label_folds_case_accents_and_punctuation():
    assert normalize_label("  Explotación   SEXUAL. ") == "explotacion sexual"
    assert normalize_label("CÃ´te d'Ivoire") == normalize_label("Côte d’Ivoire")


def test_country_iso3_codes_and_names(lists):
    assert lists.country_iso3("BRA") == "BRA"
    assert lists.country_iso3("br") == "BRA"
    assert lists.country_iso3("76") == "BRA"
    assert lists.country_iso3("Brazil") == "BRA"
    assert lists.country_iso3("") is None
    assert lists.country_iso3("Atlantis") is None


def test_lookup_many_maps_distinct_values(lists):
    values = pd.Series(["Female", "femme", None, "nonsense"] * 1000)
    mapped = lists.lookup_many("sex", values)
    assert mapped.iloc[:4].tolist()[:2] == ["F", "F"]
    assert mapped.iloc[2:4].isna().all()
    assert len(mapped) == len(values)


def test_fewer_than_5_percent_of_dataunodc_citizenships_unmapped(lists):
    sample = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    rows = sample["Dimension"].isin(["by citizenship", "by country of repatriation"])
    distinct = pd.Series(sample.loc[rows, "Category"].unique())
    distinct = distinct[distinct.str.strip() != ""]
    mapped = lists.lookup_many("citizenship", distinct)
    unmapped = distinct[mapped.isna()].tolist()
    assert len(distinct) > 50
    assert len(unmapped) / len(distinct) < 0.05, unmapped


def test_an_edited_code_list_is_read_again_by_a_running_process(tmp_path):
    folder = tmp_path / "reference"
    original = load_codelists().versions  # the bundled folder, for its file names
    shutil.copytree(reference_dir(), folder)
    first = load_codelists(folder)
    assert load_codelists(folder) is first  # unchanged files: the cached object

    codes = folder / "codes.csv"
    codes.write_text(codes.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    second = load_codelists(folder)

    assert second is not first
    changed = (
        second.versions.set_index("name")["sha256"] != first.versions.set_index("name")["sha256"]
    )
    assert changed[changed].index.tolist() == ["codes"]
    assert set(original["name"]) == set(second.versions["name"])
