"""Samples -> warehouse -> `tipstats build` marts -> export, on a tmp home: the real mart shapes.

Six bundled countries (two M49 regions of three) over 2021-2023 are submitted, the SQL models
built with the runner, and the export read back: XLSX with openpyxl, SDMX-CSV with pysdmx, the
recovery checker on every table as published, the manifest against the warehouse.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from pysdmx.io import get_datasets

from tipstats import sql_runner, warehouse
from tipstats.disclosure import OBSERVED, SUPPRESSED, SUPPRESSED_PRIMARY, DisclosureConfig
from tipstats.exports import MANIFEST_NAME, SDMX_NAME, XLSX_NAME, export_home
from tipstats.home import resolve_home
from tipstats.report_tables import BUILDERS, TABLE_OF, audit_published

pytestmark = pytest.mark.slow  # about 15 s: submits, builds and exports twice

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
COUNTRIES = ("CAN", "CUB", "ECU", "GRC", "ROU", "RUS")  # M49 Americas and Europe, 3 each
M49 = {"CAN": "124", "CUB": "192", "ECU": "218", "GRC": "300", "ROU": "642", "RUS": "643"}
T = "_T"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = resolve_home(tmp_path_factory.mktemp("home"))
    files = sorted(p for c in COUNTRIES for p in SAMPLES.glob(f"{c}_20*.csv"))
    results = warehouse.submit_many(files, home, workers=1)
    assert [r.status for r in results] == ["accepted"] * len(files)
    with warehouse.write_connection(home) as con:
        sql_runner.run(con)
    marts = warehouse.read_tables(home, [*BUILDERS, "submissions", "ref_versions"])
    first = export_home(home, home.root / "exports", DisclosureConfig(threshold=5))
    snapshot = {name: (first.folder / name).read_bytes() for name in first.files}
    second = export_home(home, home.root / "exports", DisclosureConfig(threshold=5))
    return home, marts, first, snapshot, second


def _rows(sheet) -> list[dict]:
    header = [c.value for c in sheet[5]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(6)]


def test_every_mart_is_exported(world) -> None:
    _, marts, result, _, _ = world
    assert all(marts[name] is not None for name in BUILDERS), "tipstats build made every mart"
    assert result.notes == []
    assert [t.name for t in result.tables] == list(TABLE_OF.values())
    for name in ("charts/victims_by_region.png", "charts/flows_by_region.png", SDMX_NAME):
        assert name in result.files
    assert {f"profiles/{c}.html" for c in COUNTRIES} <= set(result.files)


def test_reexport_is_byte_identical(world) -> None:
    _, _, first, snapshot, second = world
    assert second.run_id == first.run_id and second.folder == first.folder
    stable = [n for n in first.files if n.endswith((".csv", ".parquet", ".png", ".html"))]
    assert any(n.startswith("parquet/") for n in stable)
    for name in stable:
        assert (second.folder / name).read_bytes() == snapshot[name], name


def test_xlsx_sheets_headers_and_values_match_the_marts(world) -> None:
    _, marts, result, _, _ = world
    book = load_workbook(result.folder / XLSX_NAME)
    assert book.sheetnames == list(TABLE_OF.values())
    for sheet in book.worksheets:
        assert sheet["A2"].value.startswith("Units:") and sheet.freeze_panes == "A6"

    rows = _rows(book["regional_totals"])
    totals = marts["agg_totals"]
    world_total = totals[
        (totals["scheme"] == "WORLD")
        & (totals["year"] == 2023)
        & (totals["indicator"] == "VICTIMS_DETECTED")
        & (totals["sex"] == T)
        & (totals["age"] == T)
        & (totals["exploitation"] == T)
    ].iloc[0]
    row = next(
        r
        for r in rows
        if r["scheme"] == "WORLD"
        and r["year"] == 2023
        and r["indicator"] == "VICTIMS_DETECTED"
        and (r["sex"], r["age"], r["exploitation"]) == (T, T, T)
    )
    assert row["n_countries"] == len(COUNTRIES)  # six countries: published as it is
    assert row["value"] == int(world_total["value"]) and row["flag"] == OBSERVED
    assert row["region_name"] == "World"

    country = marts["sdg_16_2_2"]
    sheet_rows = _rows(book["country_table"])
    assert {"series", "country", "year", "sex", "age", "value", "flag"} <= set(sheet_rows[0])
    small = [r for r in sheet_rows if r["flag"] == SUPPRESSED_PRIMARY]
    assert small and all(r["value"] == "<5" for r in small)
    shown = next(r for r in sheet_rows if r["flag"] == OBSERVED and r["value"] >= 5)
    truth = country[
        (country["series"] == shown["series"])
        & (country["country"] == shown["country"])
        & (country["year"] == shown["year"])
        & (country["sex"] == shown["sex"])
        & (country["age"] == shown["age"])
    ]
    assert int(truth["value"].iloc[0]) == shown["value"]

    shares = _rows(book["shares_sex_age"])
    assert {"share_group", "sex", "age", "share", "base_persons", "base_flag"} <= set(shares[0])


def test_sdmx_csv_parses_and_carries_the_country_figures(world) -> None:
    _, marts, result, _, _ = world
    (dataset,) = get_datasets(str(result.folder / SDMX_NAME))
    assert dataset.short_urn == "Dataflow=IAEG-SDGs:DF_SDG_GLH(1.0)"
    data = dataset.data
    assert set(data["REF_AREA"].astype(str)) == set(M49.values())
    assert set(data["SEX"]) <= {"F", "M", "_T"} and set(data["AGE"]) <= {"Y0T17", "Y_GE18", "_T"}
    assert set(data["CONF_STATUS"]) <= {"F", "A", "D"} and "A" in set(data["CONF_STATUS"])
    country = marts["sdg_16_2_2"]
    can = country[
        (country["country"] == "CAN")
        & (country["year"] == 2022)
        & (country["sex"] == T)
        & (country["age"] == T)
    ]
    published = data[
        (data["REF_AREA"].astype(str) == M49["CAN"])
        & (data["TIME_PERIOD"].astype(str) == "2022")
        & (data["SEX"] == T)
        & (data["AGE"] == T)
    ]
    for series, value in zip(can["series"], can["value"], strict=True):
        cell = published[published["SERIES"] == series].iloc[0]
        if cell["CONF_STATUS"] == "F":
            assert int(float(cell["OBS_VALUE"])) == int(value)


def test_recovery_checker_on_every_exported_table(world) -> None:
    _, _, result, _, _ = world
    config = DisclosureConfig(threshold=5)
    hidden = 0
    for table in result.tables:
        reread = pd.read_parquet(result.folder / f"parquet/{table.name}.parquet")
        pd.testing.assert_frame_equal(reread, table.frame, check_dtype=False)
        table.frame = reread  # the checker sees only what a reader downloads
        checked = audit_published(table, config)
        assert not checked["exposed"].any(), (table.name, checked[checked["exposed"]])
        hidden += int(reread["flag"].isin(SUPPRESSED).sum())
        assert reread.loc[reread["flag"].isin(SUPPRESSED), "value"].isna().all(), table.name
    assert hidden > 0


def test_manifest_inputs_references_threshold_and_hashes(world) -> None:
    _, marts, result, _, _ = world
    manifest = json.loads((result.folder / MANIFEST_NAME).read_text())
    submissions = marts["submissions"].sort_values("submission_id")
    assert manifest["submissions"] == [
        {"submission_id": str(i), "sha256": s}
        for i, s in zip(submissions["submission_id"], submissions["sha256"], strict=True)
    ]
    references = {r["name"]: r["sha256"] for r in manifest["reference_versions"]}
    assert references == dict(
        zip(marts["ref_versions"]["name"], marts["ref_versions"]["sha256"], strict=True)
    )
    assert manifest["threshold"] == 5 and manifest["notes"] == []
    assert set(manifest["files"]) == set(result.files)
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((result.folder / name).read_bytes()).hexdigest() == digest
    assert all(t["exposed_cells"] == 0 for t in manifest["tables"])
