"""The report workbook at world size: openpyxl (``exports._xlsx_bytes``), xlsxwriter, column-wise.

Builds the published report tables from a warehouse (read-only, as ``tipstats export`` does) once
and caches them in a pickle, then times each writer in turns (so that the shared machine's load
falls on all alike) with CPU (``time.process_time``) next to wall time:

    .venv/bin/python bench/bench_xlsx.py /tmp/s3/hw --cache /tmp/h_xlsx/world_tables.pkl --runs 3

``--check`` instead reads both workbooks (openpyxl's and the column-wise one) back with openpyxl
and compares every cell: value and type, number format, bold, font size; and each sheet's name,
size, column widths and frozen pane (a few minutes at world size).

The xlsxwriter variant (``constant_memory``, per-cell writes) writes the same sheets, titles,
widths, frozen header, fonts and number formats; it is here only to be measured.
"""

from __future__ import annotations

import argparse
import io
import pickle
import statistics
import time
from pathlib import Path

import pandas as pd

from tipstats.codelists import load_codelists
from tipstats.disclosure import SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY, DisclosureConfig
from tipstats.exports import _FLAG_OF, HEADER_ROW, _number_format, _with_region_names, _xlsx_bytes
from tipstats.exports import neutralise as neutralise_text
from tipstats.home import Home
from tipstats.report_tables import BUILDERS, build_report_tables
from tipstats.warehouse import read_tables
from tipstats.workbook import report_workbook_bytes


def world_tables(home: Path, cache: Path | None):
    if cache is not None and cache.exists():
        return pickle.loads(cache.read_bytes())
    codes = load_codelists()
    tables = read_tables(Home(home), list(BUILDERS))
    marts = {n: _with_region_names(tables[n], codes) for n in BUILDERS if tables.get(n) is not None}
    config = DisclosureConfig()
    built = (build_report_tables(marts, config), config)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(built))
    return built


def xlsxwriter_bytes(tables, config) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": False})
    title, bold = book.add_format({"bold": True, "font_size": 13}), book.add_format({"bold": True})
    formats: dict[str, object] = {}
    symbols = {
        SUPPRESSED_PRIMARY: config.primary_symbol,
        SUPPRESSED_SECONDARY: config.secondary_symbol,
    }
    for table in tables:
        sheet = book.add_worksheet(table.name[:31])
        columns = [str(c) for c in table.frame.columns]
        for j, column in enumerate(columns):
            sheet.set_column(j, j, max(10, len(column) + 2))
        sheet.freeze_panes(HEADER_ROW, 0)
        sheet.write_string(0, 0, neutralise_text(table.title), title)
        sheet.write_string(1, 0, neutralise_text(f"Units: {table.units}"))
        sheet.write_string(2, 0, neutralise_text(f"Notes: {table.notes}"))
        for j, column in enumerate(columns):
            sheet.write_string(HEADER_ROW - 1, j, neutralise_text(column), bold)
        cell_formats = []
        for column in columns:
            code = _number_format(column)
            if code is not None and code not in formats:
                formats[code] = book.add_format({"num_format": code})
            cell_formats.append(formats.get(code) if code else None)
        flag_at = {
            j: columns.index(_FLAG_OF[c])
            for j, c in enumerate(columns)
            if c in _FLAG_OF and _FLAG_OF[c] in columns
        }
        for i, record in enumerate(table.frame.itertuples(index=False), start=HEADER_ROW):
            for j, value in enumerate(record):
                if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
                    if j in flag_at and record[flag_at[j]] in symbols:
                        sheet.write_string(i, j, symbols[record[flag_at[j]]])
                elif isinstance(value, str):
                    sheet.write_string(i, j, neutralise_text(value))
                elif isinstance(value, bool):
                    sheet.write_boolean(i, j, value)
                else:
                    sheet.write_number(i, j, value, cell_formats[j])
    book.close()
    return buffer.getvalue()


def check_same(tables, config) -> int:
    from openpyxl import load_workbook

    old = load_workbook(io.BytesIO(_xlsx_bytes(tables, config)))
    new = load_workbook(io.BytesIO(report_workbook_bytes(tables, config)))
    assert old.sheetnames == new.sheetnames, (old.sheetnames, new.sheetnames)
    compared = 0
    for a, b in zip(old.worksheets, new.worksheets, strict=True):
        assert a.freeze_panes == b.freeze_panes == "A6", a.title
        assert {k: d.width for k, d in a.column_dimensions.items()} == {
            k: d.width for k, d in b.column_dimensions.items()
        }, a.title
        assert (a.max_row, a.max_column) == (b.max_row, b.max_column), a.title
        for row_a, row_b in zip(a.iter_rows(), b.iter_rows(), strict=True):
            for x, y in zip(row_a, row_b, strict=True):
                where = (a.title, x.coordinate, x.value, y.value)
                assert (type(x.value), x.value) == (type(y.value), y.value), where
                assert x.number_format == y.number_format, where
                assert (x.font.b, x.font.sz) == (y.font.b, y.font.sz), where
                compared += 1
    return compared


WRITERS = {
    "openpyxl": _xlsx_bytes,
    "xlsxwriter": xlsxwriter_bytes,
    "column-wise": report_workbook_bytes,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path, help="tipstats home with a built warehouse (read only)")
    parser.add_argument("--cache", type=Path, help="pickle of the report tables (made if absent)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", default=",".join(WRITERS))
    parser.add_argument("--check", action="store_true", help="compare, do not time")
    args = parser.parse_args()
    tables, config = world_tables(args.home, args.cache)
    if args.check:
        print(f"same workbook: {check_same(tables, config):,} cells compared")
        return
    rows = sum(len(t.frame) for t in tables)
    cells = sum(t.frame.size for t in tables)
    print(f"{len(tables)} tables, {rows:,} rows, {cells:,} cells")
    names = args.writers.split(",")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for run in range(1, args.runs + 1):
        for name in names:
            cpu, wall = time.process_time(), time.perf_counter()
            data = WRITERS[name](tables, config)
            times[name].append((time.process_time() - cpu, time.perf_counter() - wall))
            print(
                f"run {run} {name:12s} cpu {times[name][-1][0]:6.2f} s  "
                f"wall {times[name][-1][1]:6.2f} s  {len(data):,} bytes",
                flush=True,
            )
    for name in names:
        cpu = statistics.median(t[0] for t in times[name])
        wall = statistics.median(t[1] for t in times[name])
        print(f"median {name:12s} cpu {cpu:6.2f} s  wall {wall:6.2f} s")


if __name__ == "__main__":
    main()
