"""Exports: a small mart-shaped warehouse in DuckDB, exported, then read back and audited."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from pysdmx.io import get_datasets

from tipstats.disclosure import (
    OBSERVED,
    SUPPRESSED_PRIMARY,
    DisclosureConfig,
)
from tipstats.errors import TipstatsError
from tipstats.exports import MANIFEST_NAME, SDMX_NAME, XLSX_NAME, export_tables, neutralise
from tipstats.report_tables import audit_published

T = "_T"
# Region WSE pools three countries (published as it is); NAME holds one (always protected).
WSE, NAME = "WESTERN_SOUTHERN_EUROPE", "NORTH_AFRICA_MIDDLE_EAST"
COUNTRIES = {"AUT": WSE, "BEL": WSE, "CHE": WSE, "DZA": NAME}
REGION_NAMES = {WSE: "Western and Southern Europe", NAME: "=North Africa"}
YEARS = (2020, 2021, 2022)
GROUPS = (("F", "Y_GE18"), ("F", "Y0T17"), ("M", "Y_GE18"), ("M", "Y0T17"))
FORMS = (
    ("SEXUAL", "VC_HTF_DETVSX"),
    ("FORCED_LABOUR", "VC_HTF_DETVFL"),
    ("OTHER", "VC_HTF_DETVOP"),
)
FLOWS = ("DOMESTIC", "SUBREGIONAL", "REGIONAL", "TRANSREGIONAL")


def country_cells() -> pd.DataFrame:
    """Interior counts per country and year; DZA has small counts, AUT one child count of 2."""
    rng = np.random.default_rng(6)
    rows = []
    for country in COUNTRIES:
        for year in YEARS:
            sex_age = rng.integers(20, 80, size=4)
            if country == "DZA":
                sex_age = np.array([15, 0, 3, 6]) + (year - 2020)
            if country == "AUT" and year == 2021:
                sex_age[1] = 2
            total = int(sex_age.sum())
            forms = [total // 2, total // 3]
            forms.append(total - sum(forms))
            flows = [total // 4, total // 4, total // 4]
            flows.append(total - sum(flows))
            rows.append((country, year, sex_age.tolist(), forms, flows))
    return pd.DataFrame(rows, columns=["country", "year", "sex_age", "forms", "flows"])


def sdg_mart(cells: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in cells.itertuples():
        total = sum(r.sex_age)
        by_sex = {"F": r.sex_age[0] + r.sex_age[1], "M": r.sex_age[2] + r.sex_age[3]}
        by_age = {"Y_GE18": r.sex_age[0] + r.sex_age[2], "Y0T17": r.sex_age[1] + r.sex_age[3]}
        base = ("VC_HTF_DETV", r.country, r.year)
        rows.append((*base, T, T, T, total))
        for sex, value in by_sex.items():
            rows.append((*base, sex, T, T, value))
        for age, value in by_age.items():
            rows.append((*base, T, age, T, value))
        for (sex, age), value in zip(GROUPS, r.sex_age, strict=True):
            rows.append((*base, sex, age, T, value))
        for (form, series), value in zip(FORMS, r.forms, strict=True):
            rows.append((series, r.country, r.year, T, T, form, value))
    frame = pd.DataFrame(
        rows, columns=["series", "country", "year", "sex", "age", "exploitation", "value"]
    )
    return frame.assign(rate_per_100k=frame["value"] / 1000.0, population=100_000_000)


def region_marts(cells: pd.DataFrame, sdg: pd.DataFrame) -> dict[str, pd.DataFrame]:
    region = sdg.assign(region=sdg["country"].map(COUNTRIES))
    totals = (
        region[region["series"].eq("VC_HTF_DETV") | region["exploitation"].ne(T)]
        .groupby(["region", "year", "sex", "age", "exploitation"], as_index=False)
        .agg(value=("value", "sum"), n_countries=("country", "nunique"))
    )
    totals = totals.assign(
        scheme="GLOTIP",
        region_name=totals["region"].map(REGION_NAMES),
        indicator="VICTIMS_DETECTED",
        n_countries_in_region=totals["n_countries"],
        population_coverage_share=1.0,
        rate_per_100k=totals["value"] / 1000.0,
    )
    interior = totals[(totals["sex"] != T) & (totals["age"] != T)]
    base = interior.groupby(["region", "year"])["value"].transform("sum")
    sex_age = interior.assign(share=interior["value"] / base, base_persons=base).rename(
        columns={"n_countries": "base_countries"}
    )
    forms = totals[totals["exploitation"] != T]
    fbase = forms.groupby(["region", "year"])["value"].transform("sum")
    exploitation = forms.assign(
        rollup="DATAUNODC", share=forms["value"] / fbase, base_persons=fbase
    ).rename(columns={"n_countries": "base_countries"})
    flow_rows = []
    for r in cells.itertuples():
        for flow, value in zip(FLOWS, r.flows, strict=True):
            flow_rows.append((COUNTRIES[r.country], r.year, flow, value, r.country))
    flows = (
        pd.DataFrame(flow_rows, columns=["region", "year", "flow", "value", "country"])
        .groupby(["region", "year", "flow"], as_index=False)
        .agg(value=("value", "sum"), n_countries=("country", "nunique"))
        .assign(scheme="GLOTIP")
    )
    grand = totals[(totals["sex"] == T) & (totals["age"] == T) & (totals["exploitation"] == T)]
    first = grand.groupby("region")["value"].transform("first")
    trends = grand[["scheme", "region", "indicator", "year", "value", "n_countries"]].assign(
        base_year=2020,
        index=100 * grand["value"] / first,
        pct_change=100 * (grand["value"] / first - 1),
        panel_size=grand["n_countries"],
        panel_countries=grand["region"].map(
            lambda r: " ".join(c for c, g in COUNTRIES.items() if g == r)
        ),
    )
    return {
        "agg_totals": totals.drop(columns=[]),
        "agg_shares_sex_age": sex_age,
        "agg_shares_exploitation": exploitation,
        "agg_flows": flows,
        "agg_trends": trends.drop(columns=["n_countries"]),
    }


@pytest.fixture(scope="module")
def warehouse_tables() -> dict[str, pd.DataFrame]:
    """The marts, written to and read back from DuckDB as the warehouse would serve them."""
    cells = country_cells()
    sdg = sdg_mart(cells)
    marts = {**region_marts(cells, sdg), "sdg_16_2_2": sdg}
    marts["submissions"] = pd.DataFrame(
        {
            "submission_id": ["s2", "s1", "s3"],
            "sha256": ["b" * 64, "a" * 64, "c" * 64],
            "status": ["accepted", "accepted", "rejected"],
        }
    )
    con = duckdb.connect()
    for name, frame in marts.items():
        con.register("frame", frame)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    return {name: con.table(name).df() for name in marts}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, warehouse_tables):
    out = tmp_path_factory.mktemp("run") / "exports"
    return export_tables(warehouse_tables, out, config=DisclosureConfig())


def test_files_written_into_run_folder(exported) -> None:
    folder = exported.folder
    assert folder.parent.name == "exports" and folder.name == exported.run_id
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for expected in (
        XLSX_NAME,
        SDMX_NAME,
        MANIFEST_NAME,
        "csv/regional_totals.csv",
        "parquet/country_table.parquet",
        "charts/victims_by_region.png",
        "charts/flows_by_region.png",
        "profiles/DZA.html",
        "profiles/AUT.html",
    ):
        assert expected in names


def test_xlsx_sheets_headers_values(exported) -> None:
    book = load_workbook(exported.folder / XLSX_NAME)
    assert book.sheetnames == [
        "regional_totals",
        "shares_sex_age",
        "shares_exploitation",
        "flows",
        "trends",
        "country_table",
    ]
    sheet = book["regional_totals"]
    assert sheet["A1"].value.startswith("Detected victims")
    assert sheet["A2"].value.startswith("Units:")
    assert sheet["A3"].value.startswith("Notes:")
    assert sheet.freeze_panes == "A6"
    header = [c.value for c in sheet[5]]
    assert {"scheme", "region", "year", "value", "flag", "n_countries"} <= set(header)
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(6)]
    wse = next(
        r
        for r in rows
        if r["region"] == WSE
        and r["year"] == 2021
        and r["sex"] == T
        and r["age"] == T
        and r["exploitation"] == T
    )
    cells = country_cells()
    expected = sum(
        sum(r.sex_age) for r in cells.itertuples() if r.year == 2021 and r.country != "DZA"
    )
    assert wse["value"] == expected  # three countries: published as it is
    assert wse["flag"] == OBSERVED
    # The one-country region is protected, and its formula-like name is neutralised.
    name = [r for r in rows if r["region"] == NAME]
    assert name[0]["region_name"] == "'=North Africa"
    # One country: the aggregate is hidden (the country table holds the figure, protected).
    assert all(r["value"] in ("<5", "x") for r in name)
    assert {r["flag"] for r in name} <= {"suppressed_primary", "suppressed_secondary"}
    column = header.index("value") + 1
    numbers = [
        r[0]
        for r in sheet.iter_rows(6, min_col=column, max_col=column)
        if isinstance(r[0].value, int)
    ]
    assert numbers and all(c.number_format == "#,##0" for c in numbers)


def test_xlsx_shows_symbols_for_hidden_counts(exported) -> None:
    sheet = load_workbook(exported.folder / XLSX_NAME)["country_table"]
    header = [c.value for c in sheet[5]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(6)]
    girls = next(
        r
        for r in rows
        if r["country"] == "DZA" and r["year"] == 2020 and r["sex"] == "F" and r["age"] == "Y0T17"
    )
    assert girls["value"] == "<5" and girls["flag"] == SUPPRESSED_PRIMARY
    secondary = [r for r in rows if r["flag"] == "suppressed_secondary"]
    assert secondary and all(r["value"] == "x" for r in secondary)


def test_country_table_small_counts_are_hidden(exported) -> None:
    frame = pd.read_csv(exported.folder / "csv/country_table.csv")
    dza = frame[(frame["country"] == "DZA") & (frame["year"] == 2020)]
    girls = dza[(dza["sex"] == "F") & (dza["age"] == "Y0T17")].iloc[0]
    assert girls["flag"] == SUPPRESSED_PRIMARY and pd.isna(girls["value"])
    assert pd.isna(girls["rate_per_100k"])  # a rate would give the count back
    hidden = frame[frame["flag"] != OBSERVED]
    assert hidden["value"].isna().all()
    assert set(hidden["flag"]) == {"suppressed_primary", "suppressed_secondary"}


def test_recovery_checker_on_every_exported_table(exported) -> None:
    config = DisclosureConfig()
    for table in exported.tables:
        reread = pd.read_parquet(exported.folder / f"parquet/{table.name}.parquet")
        pd.testing.assert_frame_equal(reread, table.frame, check_dtype=False)
        result = audit_published(table, config)
        assert not result["exposed"].any(), (table.name, result[result["exposed"]])
    suppressed = sum(len(t.audit) for t in exported.tables)
    assert suppressed > 0  # the fixture does exercise suppression


def test_sdmx_csv_parses_with_pysdmx(exported) -> None:
    path = exported.folder / SDMX_NAME
    assert path.read_text().splitlines()[0].startswith("STRUCTURE,STRUCTURE_ID,ACTION,SERIES")
    (dataset,) = get_datasets(str(path))
    assert dataset.short_urn == "Dataflow=IAEG-SDGs:DF_SDG_GLH(1.0)"
    data = dataset.data
    assert set(data["REF_AREA"]) == {"40", "56", "756", "12"}  # M49 codes, no leading zeros
    assert set(data["SEX"]) <= {"F", "M", "_T"} and set(data["AGE"]) <= {"Y0T17", "Y_GE18", "_T"}
    assert set(data["SERIES"]) == {"VC_HTF_DETV", "VC_HTF_DETVSX", "VC_HTF_DETVFL", "VC_HTF_DETVOP"}
    row = data[
        (data["REF_AREA"] == "12")
        & (data["TIME_PERIOD"].astype(str) == "2020")
        & (data["SEX"] == "F")
        & (data["AGE"] == "Y0T17")
        & (data["SERIES"] == "VC_HTF_DETV")
    ].iloc[0]
    assert row["CONF_STATUS"] == "A" and str(row["OBS_VALUE"]) in ("", "nan", "NaN")
    aut = data[
        (data["REF_AREA"] == "40")
        & (data["TIME_PERIOD"].astype(str) == "2020")
        & (data["SEX"] == "_T")
        & (data["AGE"] == "_T")
        & (data["SERIES"] == "VC_HTF_DETV")
    ].iloc[0]
    cells = country_cells()
    assert int(aut["OBS_VALUE"]) == sum(cells.iloc[0]["sex_age"])
    assert aut["UNIT_MEASURE"] == "NUMBER" and aut["CONF_STATUS"] == "F"


def test_reexport_is_byte_identical(warehouse_tables, exported) -> None:
    again = export_tables(warehouse_tables, exported.folder.parent, config=DisclosureConfig())
    assert again.run_id == exported.run_id and again.folder == exported.folder
    for name, digest in exported.files.items():
        if name.endswith((".csv", ".parquet", ".png", ".html")):
            assert again.files[name] == digest, name
    other_root = exported.folder.parent.parent / "other"
    other = export_tables(warehouse_tables, other_root, config=DisclosureConfig(threshold=10))
    assert other.run_id != exported.run_id


def test_manifest_lists_inputs_and_hashes(exported) -> None:
    manifest = json.loads((exported.folder / MANIFEST_NAME).read_text())
    assert manifest["run_id"] == exported.run_id
    assert manifest["threshold"] == 5
    assert [s["submission_id"] for s in manifest["submissions"]] == ["s1", "s2"]
    assert {r["name"] for r in manifest["reference_versions"]} >= {"countries", "region_schemes"}
    import hashlib

    for name, digest in manifest["files"].items():
        assert hashlib.sha256((exported.folder / name).read_bytes()).hexdigest() == digest
    tables = {t["name"]: t for t in manifest["tables"]}
    assert tables["country_table"]["suppressed_primary"] > 0
    assert all(t["exposed_cells"] == 0 for t in tables.values())


def test_profile_is_escaped_and_self_contained(exported) -> None:
    html = (exported.folder / "profiles/DZA.html").read_text()
    assert "Algeria" in html and "&lt;5" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "North Africa" in html
    aut = (exported.folder / "profiles/AUT.html").read_text()
    assert "Austria" in aut and "Western and Southern Europe" in aut
    # Its own shares against its region's, for the latest year both publish.
    assert "Shares by sex and age, 2022" in aut and aut.count("%</td>") == 8


def test_missing_mart_is_skipped_with_a_note(tmp_path: Path, warehouse_tables) -> None:
    tables = {k: v for k, v in warehouse_tables.items() if k not in ("agg_flows", "sdg_16_2_2")}
    result = export_tables(tables, tmp_path)
    assert [t.name for t in result.tables] == [
        "regional_totals",
        "shares_sex_age",
        "shares_exploitation",
        "trends",
    ]
    assert "charts/flows_by_region.png" not in result.files
    assert SDMX_NAME not in result.files
    assert not any(name.startswith("profiles/") for name in result.files)
    notes = json.loads((result.folder / MANIFEST_NAME).read_text())["notes"]
    assert notes == result.notes and len(notes) == 2
    assert "agg_flows" in notes[0] and "flows_by_region.png" in notes[0]
    assert "sdg_16_2_2" in notes[1] and SDMX_NAME in notes[1]


def test_no_mart_at_all_is_a_clear_error(tmp_path: Path, warehouse_tables) -> None:
    tables = {k: v for k, v in warehouse_tables.items() if not k.startswith(("agg_", "sdg_"))}
    with pytest.raises(TipstatsError, match="run `tipstats build` first"):
        export_tables(tables, tmp_path)


def test_neutralise_formula_like_text() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("-2") == "'-2"
    assert neutralise("Western Europe") == "Western Europe"


def test_share_mart_without_base_gets_it_from_its_counts() -> None:
    from tipstats.report_tables import shares_sex_age

    mart = pd.DataFrame(
        {
            "scheme": "GLOTIP",
            "region": "R",
            "year": 2020,
            "indicator": "VICTIMS_DETECTED",
            "sex": ["F", "F", "M", "M"],
            "age": ["Y_GE18", "Y0T17", "Y_GE18", "Y0T17"],
            "value": [40, 2, 30, 28],
            "share": [0.4, 0.02, 0.3, 0.28],
            "n_countries": 2,
        }
    )
    table = shares_sex_age(mart, DisclosureConfig())
    assert table.frame["base_persons"].isna().all() or set(table.frame["base_persons"]) == {100}
    # Two countries: the whole aggregate is withheld, the small count first of all.
    girls = table.frame[table.frame["age"] == "Y0T17"].iloc[0]
    assert girls["flag"] == SUPPRESSED_PRIMARY and pd.isna(girls["share"])
    assert not audit_published(table, DisclosureConfig())["exposed"].any()
    # Five countries: published as it is.
    pooled = shares_sex_age(mart.assign(n_countries=5), DisclosureConfig())
    assert pooled.frame["flag"].eq(OBSERVED).all()
    assert pooled.frame["value"].tolist() == [2, 40, 28, 30]


def test_censored_aggregate_keeps_its_bounds() -> None:
    from tipstats.report_tables import regional_totals

    mart = pd.DataFrame(
        {
            "scheme": "WORLD",
            "region": "WORLD",
            "year": 2020,
            "indicator": "VICTIMS_DETECTED",
            "sex": T,
            "age": T,
            "exploitation": T,
            "value": [None],
            "value_low": [120.0],
            "value_high": [136.0],
            "n_countries": [40],
        }
    )
    row = regional_totals(mart, DisclosureConfig()).frame.iloc[0]
    assert row["flag"] == "not_available"
    assert (row["value_low"], row["value_high"]) == (120, 136)


def test_share_groups_of_the_mart_get_their_sex_and_age_codes() -> None:
    from tipstats.report_tables import ExportError, shares_sex_age

    mart = pd.DataFrame(
        {
            "scheme": "WORLD",
            "region": "WORLD",
            "year": 2023,
            "indicator": "VICTIMS_DETECTED",
            "share_group": ["women", "girls", "men", "boys"],
            "persons": [40.0, 20.0, 30.0, 10.0],
            "base_persons": 100.0,
            "base_countries": 4,
            "share": [0.4, 0.2, 0.3, 0.1],
        }
    )
    frame = shares_sex_age(mart, DisclosureConfig()).frame
    women = frame[frame["share_group"] == "women"].iloc[0]
    assert (women["sex"], women["age"], women["value"]) == ("F", "Y_GE18", 40)
    assert set(zip(frame["sex"], frame["age"], strict=True)) == {
        ("F", "Y_GE18"),
        ("F", "Y0T17"),
        ("M", "Y_GE18"),
        ("M", "Y0T17"),
    }
    with pytest.raises(ExportError, match="elderly"):
        shares_sex_age(mart.assign(share_group="elderly"), DisclosureConfig())


def test_censored_regional_sum_is_published_as_bounds_and_protects_its_neighbour() -> None:
    # From a real build: F sums over a censored cell (208 known, up to 212). Published as 208,
    # a reader taking 439 = F + M + UNKNOWN as exact would pin UNKNOWN (truly 0) to 4.
    from tipstats.report_tables import regional_totals

    mart = pd.DataFrame(
        {
            "scheme": "WORLD",
            "region": "WORLD",
            "year": 2022,
            "indicator": "PERSONS_PROSECUTED",
            "sex": ["F", "M", "UNKNOWN", T],
            "age": T,
            "exploitation": T,
            "value": [208.0, 227.0, 0.0, 439.0],
            "value_low": [208.0, 227.0, 0.0, 439.0],
            "value_high": [212.0, 227.0, 0.0, 439.0],
            "n_countries": [6, 6, 2, 6],
        }
    )
    table = regional_totals(mart, DisclosureConfig())
    female = table.frame[table.frame["sex"] == "F"].iloc[0]
    assert female["flag"] == "not_available" and pd.isna(female["value"])
    assert (female["value_low"], female["value_high"]) == (208, 212)
    assert not audit_published(table, DisclosureConfig())["exposed"].any()


def test_country_table_with_forms_exceeding_their_total() -> None:
    # dataUNODC, Argentina 2014: boys in forced labour (10) exceed all boys (6); the sources
    # differ. No relation can hold there, for the protection nor for the reader's check.
    from tipstats.report_tables import country_table

    rows = [
        ("VC_HTF_DETVFL", "F", "Y0T17", "FORCED_LABOUR", 7, "A"),
        ("VC_HTF_DETVFL", "F", "Y_GE18", "FORCED_LABOUR", None, "C"),
        ("VC_HTF_DETVFL", "M", "Y0T17", "FORCED_LABOUR", 10, "A"),
        ("VC_HTF_DETVFL", "M", "Y_GE18", "FORCED_LABOUR", 142, "A"),
        ("VC_HTF_DETVFL", T, T, "FORCED_LABOUR", 209, "A"),
        ("VC_HTF_DETVSX", "F", "Y0T17", "SEXUAL", 11, "A"),
        ("VC_HTF_DETVSX", "F", "Y_GE18", "SEXUAL", 163, "A"),
        ("VC_HTF_DETVSX", "M", "Y0T17", "SEXUAL", None, "C"),
        ("VC_HTF_DETVSX", "M", "Y_GE18", "SEXUAL", None, "C"),
        ("VC_HTF_DETVSX", T, T, "SEXUAL", 182, "A"),
        ("VC_HTF_DETV", "F", "Y0T17", T, 19, "A"),
        ("VC_HTF_DETV", "F", "Y_GE18", T, 186, "A"),
        ("VC_HTF_DETV", "F", T, T, 205, "A"),
        ("VC_HTF_DETV", "M", "Y0T17", T, 6, "A"),
        ("VC_HTF_DETV", "M", "Y_GE18", T, 133, "A"),
        ("VC_HTF_DETV", "M", T, T, 139, "A"),
        ("VC_HTF_DETV", T, "Y0T17", T, 25, "A"),
        ("VC_HTF_DETV", T, "Y_GE18", T, 319, "A"),
        ("VC_HTF_DETV", T, T, T, 375, "A"),
    ]
    mart = pd.DataFrame(
        rows, columns=["series", "sex", "age", "exploitation", "value", "status"]
    ).assign(country="ARG", year=2014)
    table = country_table(mart, DisclosureConfig())
    assert table.n_exposed == 0
    assert (table.frame["flag"] == SUPPRESSED_PRIMARY).sum() >= 3
    assert not audit_published(table, DisclosureConfig())["exposed"].any()
