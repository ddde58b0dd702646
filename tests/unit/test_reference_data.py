"""Referential integrity of data/reference/: every code, country and region points somewhere."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tipstats.codelists import DIMENSIONS, load_codelists
from tipstats.home import samples_dir

FIXTURE = Path(__file__).parents[1] / "fixtures" / "glotip_sample6.csv"
SCHEMES = ("M49", "SDG", "GLOTIP", "WORLD")


@pytest.fixture(scope="module")
def lists():
    return load_codelists()


def test_countries_are_unique_and_complete(lists):
    countries = lists.countries
    assert countries["iso3"].is_unique
    assert len(countries) >= 249
    assert countries["m49"].str.fullmatch(r"\d{3}").all()
    for column in ("iso3", "name_en", "m49_region", "sdg_region", "glotip_region"):
        assert (countries[column] != "").all(), column


def test_every_region_member_is_a_known_country(lists):
    unknown = set(lists.region_members["iso3"]) - set(lists.countries["iso3"])
    assert unknown == set()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_country_in_exactly_one_region_per_scheme(lists, scheme):
    members = lists.region_members[lists.region_members["scheme"] == scheme]
    counts = members.groupby("iso3").size()
    assert set(counts.index) == set(lists.countries["iso3"])
    assert (counts == 1).all(), counts[counts != 1].index.tolist()
    assert (members["region_name"] != "").all()


def test_glotip_has_the_ten_report_regions_and_mexico_in_north_america(lists):
    glotip = lists.region_members[lists.region_members["scheme"] == "GLOTIP"]
    inhabited = glotip[glotip["iso3"] != "ATA"]
    assert inhabited["region_name"].nunique() == 10
    assert glotip.loc[glotip["iso3"] == "MEX", "region_name"].item() == "North America"
    assert "version" in glotip.columns and (glotip["version"] != "").all()


def test_population_covers_every_country_with_data(lists):
    sample = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    reporting = set(sample["Iso3_code"])
    samples = samples_dir()
    if samples.is_dir():
        reporting |= {p.name.split("_")[0] for p in samples.glob("*_*.csv")}
    population = lists.population
    assert (population["population"] > 0).all()
    assert population["year"].min() == 2000
    for iso3 in reporting:
        years = set(population.loc[population["iso3"] == iso3, "year"])
        assert set(range(2000, 2021)) <= years, iso3


def test_population_has_no_world_bank_aggregates(lists):
    assert set(lists.population["iso3"]) <= set(lists.countries["iso3"])


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_codes_unique_and_labelled_in_three_languages(lists, dimension):
    table = lists.table(dimension)
    assert not table.empty
    assert table["code"].is_unique
    for language in ("en", "fr", "es"):
        assert (table[f"label_{language}"] != "").all()


def test_every_code_map_target_is_a_valid_code(lists):
    valid = set(zip(lists.code_table["dimension"], lists.code_table["code"], strict=True))
    targets = set(zip(lists.code_map["dimension"], lists.code_map["code"], strict=True))
    assert targets - valid == set()
    assert set(lists.code_map["language"]) <= {"en", "fr", "es", "any"} | set(
        lists.code_map["language"]
    )


def test_no_label_maps_to_two_codes(lists):
    from tipstats.codelists import normalize_label

    variants = lists.code_map.assign(key=lists.code_map["label"].map(normalize_label))
    clashes = variants.groupby(["dimension", "key"])["code"].nunique()
    assert (clashes == 1).all(), clashes[clashes > 1].index.tolist()


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("DATAUNODC", {"SEXUAL", "FORCED_LABOUR", "OTHER", "UNKNOWN", "_T"}),
        ("SDG", {"SEXUAL", "FORCED_LABOUR", "ORGAN_REMOVAL", "OTHER", "UNKNOWN", "_T"}),
    ],
)
def test_rollups_cover_every_exploitation_code(lists, target, allowed):
    rollups = lists.rollups[lists.rollups["target"] == target]
    assert set(rollups["code"]) == set(lists.codes("exploitation"))
    assert rollups["code"].is_unique
    assert set(rollups["rolled_code"]) <= allowed
    assert rollups.set_index("code").loc["ORGAN_REMOVAL", "rolled_code"] == (
        "ORGAN_REMOVAL" if target == "SDG" else "OTHER"
    )


def test_country_name_map_points_to_known_countries(lists):
    mapped = lists.country_names["iso3"]
    assert set(mapped[mapped != ""]) <= set(lists.countries["iso3"])


def test_versions_recorded_for_every_file(lists):
    assert {"countries", "region_schemes", "population", "codes"} <= set(lists.versions["name"])
    assert lists.versions["sha256"].str.len().eq(64).all()
