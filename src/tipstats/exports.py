"""IO: write the Global Report exports, with disclosure control applied on the way out.

``export_tables`` takes the marts (and the ``submissions`` / ``ref_versions`` tables) as frames
read by ``tipstats.warehouse`` and writes into ``<out>/<run-id>/``:

* ``global_report_tables.xlsx``: one sheet per table, title, units, notes, frozen header;
* ``csv/<table>.csv`` and ``parquet/<table>.parquet``: the same tables;
* ``sdg_16_2_2.sdmx.csv``: SDMX-CSV 2.0 for the SDG database;
* ``charts/*.png``; ``profiles/<ISO3>.html``: one page per country;
* ``manifest.json``: run id, time, inputs, reference versions, threshold, sha256 of each file.

The run id is derived from the content: a hash of the published tables, the SDMX file, the
disclosure settings, the input submissions and the reference versions. Re-exporting an unchanged
warehouse writes into the same folder, and the CSV, Parquet, SDMX and PNG files come out
byte-identical (no timestamps inside them), and so does the XLSX (``tipstats.workbook`` writes
it without document dates); only ``manifest.json`` (its ``created_at``) carries the time of the
run.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from tipstats import charts
from tipstats.codelists import CodeLists, load_codelists
from tipstats.csv_text import csv_bytes
from tipstats.disclosure import (
    FLAG,
    NOT_AVAILABLE,
    SUPPRESSED_PRIMARY,
    SUPPRESSED_SECONDARY,
    DisclosureConfig,
)
from tipstats.errors import TipstatsError
from tipstats.home import Home
from tipstats.profiles import country_profiles
from tipstats.report_tables import (
    BUILDERS,
    TABLE_OF,
    PublishedTable,
    build_report_tables,
    missing_marts,
)
from tipstats.sdmx import sdg_16_2_2_sdmx
from tipstats.workbook import report_workbook_bytes

XLSX_NAME = "global_report_tables.xlsx"
SDMX_NAME = "sdg_16_2_2.sdmx.csv"
MANIFEST_NAME = "manifest.json"
INPUT_TABLES = ("submissions", "ref_versions")
HEADER_ROW = 5  # rows 1-3: title, units, notes; row 4 blank; row 5: column names
PROFILE_SCHEME = "GLOTIP"
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ExportResult:
    run_id: str
    folder: Path
    files: dict[str, str]
    tables: list[PublishedTable] = field(repr=False)
    manifest: dict = field(repr=False)
    notes: list[str] = field(default_factory=list)  # what was left out, and why


# --------------------------------------------------------------------------- entry points


def export_home(
    home: Home, out: Path | None = None, config: DisclosureConfig | None = None
) -> ExportResult:
    """Read the published marts through the warehouse and export them (``tipstats export``).

    The stable entry point of the pipeline: ``out`` defaults to ``<home>/exports``, ``config``
    to ``DisclosureConfig()`` (threshold 5). Raises ``TipstatsError`` (one line) when there is no
    warehouse or no mart at all; a mart not built yet is skipped and named in ``notes``.
    """
    if not home.database.exists():
        raise TipstatsError(
            f"no warehouse at {home.database}: run `tipstats submit` and `tipstats build` first",
            exit_code=2,
        )
    from tipstats.warehouse import read_tables

    # No reference kept here: export_tables lets go of the marts once protected.
    return export_tables(
        read_tables(home, [*BUILDERS, *INPUT_TABLES]),
        out if out is not None else home.exports,
        config=config,
    )


def export_tables(
    tables: Mapping[str, pd.DataFrame | None],
    out: Path,
    *,
    config: DisclosureConfig | None = None,
    codelists: CodeLists | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Protect, render and write every export; returns where they went and their hashes."""
    config = config or DisclosureConfig()
    codes = codelists or load_codelists()
    marts = {
        name: _with_region_names(tables[name], codes)
        for name in BUILDERS
        if tables.get(name) is not None
    }
    notes = [_missing_note(name) for name in missing_marts(tables)]
    submissions = _submissions(tables.get("submissions"))
    references = _references(tables.get("ref_versions"), codes)
    # Only the published tables are needed from here on: the marts (the world's are ~50 MB,
    # and their copies with region names) are let go of, unless the caller still holds them.
    del tables
    published = build_report_tables(marts, config)
    del marts
    exposed = [t.name for t in published if t.n_exposed]
    if exposed:  # never reached when disclosure works: the audit is the last line of defence
        raise TipstatsError(f"disclosure audit failed for {', '.join(exposed)}: nothing written")
    by_name = {t.name: t for t in published}

    blobs: dict[str, bytes] = {}
    for table in published:
        blobs[f"csv/{table.name}.csv"] = _csv_bytes(table.frame)
        blobs[f"parquet/{table.name}.parquet"] = _parquet_bytes(table.frame)
    if COUNTRY_TABLE in by_name:
        sdmx = sdg_16_2_2_sdmx(by_name[COUNTRY_TABLE].frame, codes.countries)
        blobs[SDMX_NAME] = _csv_bytes(sdmx)
        del sdmx  # a frame of text as big as the country table

    run_id = _run_id(blobs, config, submissions, references)
    folder = Path(out) / run_id

    label_of = _label_function(codes)
    for table_name, (file_name, draw) in CHARTS.items():
        if table_name in by_name:
            figure = draw(by_name[table_name].frame, label_of)
            blobs[f"charts/{file_name}"] = charts.to_png(figure)
    if COUNTRY_TABLE in by_name:
        for iso3, html in _profiles(by_name, codes, config).items():
            blobs[f"profiles/{iso3}.html"] = html.encode("utf-8")
    blobs[XLSX_NAME] = report_workbook_bytes(published, config)

    for name, data in blobs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    files = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(blobs.items())}
    manifest = {
        "run_id": run_id,
        "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "threshold": config.threshold,
        "disclosure": asdict(config),
        "submissions": submissions,
        "reference_versions": references,
        "tables": [_table_summary(t) for t in published],
        "notes": notes,
        "files": files,
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return ExportResult(run_id, folder, files, published, manifest, notes)


COUNTRY_TABLE = TABLE_OF["sdg_16_2_2"]
# Report table -> (PNG name, drawing of its published frame).
CHARTS = {
    "regional_totals": ("victims_by_region.png", lambda f, _: charts.victims_by_region(f)),
    "shares_sex_age": (
        "sex_age_shares_by_region.png",
        lambda f, label_of: charts.sex_age_shares(f, label_of=label_of),
    ),
    "shares_exploitation": (
        "exploitation_by_region.png",
        lambda f, label_of: charts.exploitation_shares(f, label_of=label_of),
    ),
    "flows": ("flows_by_region.png", lambda f, _: charts.flow_shares(f)),
}


def _missing_note(mart: str) -> str:
    table = TABLE_OF[mart]
    also = {
        COUNTRY_TABLE: f", {SDMX_NAME} and the country profiles",
    }.get(table, "")
    chart = next((png for name, (png, _) in CHARTS.items() if name == table), None)
    if chart:
        also += f" and charts/{chart}"
    return (
        f"mart {mart} is not in the warehouse: table {table}{also} not exported "
        "(run `tipstats build`; if it still lacks, the SQL model does not exist yet)"
    )


def _with_region_names(mart: pd.DataFrame, codes: CodeLists) -> pd.DataFrame:
    """Add ``region_name`` from the region schemes when a regional mart carries only codes."""
    region = "region" if "region" in mart.columns else "region_code"
    if "region_name" in mart.columns or region not in mart.columns or "scheme" not in mart:
        return mart
    names = codes.region_members.drop_duplicates(["scheme", "region_code"])
    lookup = dict(
        zip(
            zip(names["scheme"], names["region_code"], strict=True),
            names["region_name"],
            strict=True,
        )
    )
    # Over plain lists: iterating a str column yields its values one by one, ~20x slower.
    pairs = zip(mart["scheme"].tolist(), mart[region].tolist(), strict=True)
    found = [lookup.get((s, r), r) for s, r in pairs]
    position = list(mart.columns).index(region) + 1
    out = mart.copy()
    out.insert(position, "region_name", found)
    return out


# --------------------------------------------------------------------------- serialisation


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    # The bytes of frame.to_csv(index=False, lineterminator="\n"), built column-wise.
    return csv_bytes(frame)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def _run_id(blobs: dict[str, bytes], config, submissions, references) -> str:
    digest = hashlib.sha256()
    for name in sorted(blobs):
        digest.update(name.encode())
        digest.update(hashlib.sha256(blobs[name]).digest())
    digest.update(json.dumps([asdict(config), submissions, references], sort_keys=True).encode())
    return digest.hexdigest()[:12]


def _submissions(frame: pd.DataFrame | None) -> list[dict[str, str]]:
    if frame is None or frame.empty:
        return []
    rows = frame
    if "status" in rows.columns:
        rows = rows[rows["status"] == "accepted"]
    rows = rows.sort_values("submission_id")
    return [
        {"submission_id": str(i), "sha256": str(h)}
        for i, h in zip(rows["submission_id"].tolist(), rows["sha256"].tolist(), strict=True)
    ]


def _references(frame: pd.DataFrame | None, codes: CodeLists) -> list[dict[str, str]]:
    source = frame if frame is not None and not frame.empty else codes.versions
    rows = source.sort_values("name")
    return [
        {"name": str(r.name), "version": str(r.version), "sha256": str(r.sha256)}
        for r in rows.itertuples()
    ]


def _table_summary(table: PublishedTable) -> dict[str, object]:
    flags = pd.concat(
        [table.frame[c] for c in table.frame.columns if c == FLAG or c.endswith("_flag")]
    )
    return {
        "name": table.name,
        "rows": len(table.frame),
        "suppressed_primary": int((flags == SUPPRESSED_PRIMARY).sum()),
        "suppressed_secondary": int((flags == SUPPRESSED_SECONDARY).sum()),
        "not_available": int((flags == NOT_AVAILABLE).sum()),
        "checked_cells": len(table.audit),
        "exposed_cells": table.n_exposed,
    }


def _label_function(codes: CodeLists):
    # Charts and profiles ask for the same few labels thousands of times.
    @functools.cache
    def label_of(dimension: str, code: str) -> str:
        try:
            return codes.label(dimension, code)
        except KeyError:
            return code

    return label_of


# --------------------------------------------------------------------------- XLSX


def neutralise(text: str) -> str:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _number_format(column: str) -> str | None:
    if column in ("share", "population_coverage_share"):
        return "0.0%"
    if column in ("rate_per_100k", "value_low", "value_high", "index", "pct_change"):
        return "0.00"
    if column in ("value", "base_persons", "population", "population_reporting") or (
        column.startswith("n_") or column in ("base_countries", "panel_size")
    ):
        return "#,##0"
    return None


# The flag column that says why a count column is empty.
_FLAG_OF = {"value": FLAG, "base_persons": "base_flag"}


def _xlsx_bytes(tables: list[PublishedTable], config: DisclosureConfig) -> bytes:
    """The report workbook; a hidden count reads ``<5`` or ``x`` as the Report prints it.

    Written in openpyxl's streaming (write-only) mode: rows go out as they come, which keeps
    the export of a few thousand rows well under a second.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold, title_font = Font(bold=True), Font(bold=True, size=13)
    symbols = {
        SUPPRESSED_PRIMARY: config.primary_symbol,
        SUPPRESSED_SECONDARY: config.secondary_symbol,
    }
    for table in tables:
        sheet = book.create_sheet(title=table.name[:31])
        columns = list(table.frame.columns)
        for j, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(j)].width = max(10, len(str(column)) + 2)
        sheet.freeze_panes = f"A{HEADER_ROW + 1}"

        def styled(
            value: object,
            font: Font | None = None,
            number_format: str | None = None,
            sheet=sheet,
        ) -> WriteOnlyCell:
            cell = WriteOnlyCell(sheet, value=value)
            if font is not None:
                cell.font = font
            if number_format is not None:
                cell.number_format = number_format
            return cell

        sheet.append([styled(neutralise(table.title), title_font)])
        sheet.append([neutralise(f"Units: {table.units}")])
        sheet.append([neutralise(f"Notes: {table.notes}")])
        sheet.append([])
        sheet.append([styled(neutralise(str(c)), bold) for c in columns])
        formats = [_number_format(str(c)) for c in columns]
        flag_at = {
            j: columns.index(_FLAG_OF[c])
            for j, c in enumerate(columns)
            if c in _FLAG_OF and _FLAG_OF[c] in columns
        }
        for record in table.frame.itertuples(index=False):
            row: list[object] = []
            for j, value in enumerate(record):
                if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
                    hidden = j in flag_at and record[flag_at[j]] in symbols
                    row.append(symbols[record[flag_at[j]]] if hidden else None)
                elif isinstance(value, str):
                    row.append(neutralise(value))
                else:
                    plain = value.item() if hasattr(value, "item") else value
                    row.append(styled(plain, number_format=formats[j]) if formats[j] else plain)
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- profiles


def _profiles(
    by_name: dict[str, PublishedTable], codes: CodeLists, config: DisclosureConfig
) -> dict[str, str]:
    country_rows = by_name["country_table"].frame
    if country_rows.empty:
        return {}
    if "series" in country_rows.columns:
        series = sorted(set(country_rows["series"].tolist()))
        main = "VC_HTF_DETV" if "VC_HTF_DETV" in series else series[0]
        totals = country_rows[country_rows["series"] == main]
    else:
        totals = country_rows
    shares = (
        by_name["shares_sex_age"].frame
        if "shares_sex_age" in by_name
        else pd.DataFrame(columns=["scheme", "region", "year", "sex", "age", "share"])
    )
    if "scheme" in shares.columns:
        shares = shares[shares["scheme"] == PROFILE_SCHEME]
    if "indicator" in shares.columns:
        shares = shares[shares["indicator"] == charts.VICTIMS]
    members = codes.region_members[codes.region_members["scheme"] == PROFILE_SCHEME]
    region_of = dict(zip(members["iso3"], members["region_code"], strict=True))
    region_name = dict(zip(members["region_code"], members["region_name"], strict=False))
    names = dict(zip(codes.countries["iso3"], codes.countries["name_en"], strict=True))
    symbols = {
        SUPPRESSED_PRIMARY: config.primary_symbol,
        SUPPRESSED_SECONDARY: config.secondary_symbol,
    }
    label_of = _label_function(codes)
    group_label = {("_T", "_T"): "All victims"} | {
        (s, a): f"{label_of('sex', s)}, {label_of('age', a)}"
        for s in ("F", "M")
        for a in ("Y_GE18", "Y0T17")
    }
    return country_profiles(
        totals,
        shares,
        names=names,
        region_of=region_of,
        region_name=region_name,
        scheme=PROFILE_SCHEME,
        symbols=symbols,
        group_label=group_label,
        source=charts.SOURCE,
    )
