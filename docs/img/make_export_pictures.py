"""Regenerate the pictures of docs/exports.md from the bundled samples.

Run from the checkout: ``.venv/bin/python docs/img/make_export_pictures.py``. It submits every
valid file of ``data/samples/`` into a temporary home, builds the marts (``tipstats build``),
exports them (``tipstats export``) and copies the charts and one country profile here; nothing
else in the repository is written. It prints how long the export itself took.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from tipstats import sql_runner, warehouse
from tipstats.disclosure import DisclosureConfig
from tipstats.exports import export_home
from tipstats.home import resolve_home

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parents[1] / "data" / "samples"
PROFILE = "GRC"


def main() -> None:
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".csv", ".xlsx"))
    with tempfile.TemporaryDirectory() as scratch:
        home = resolve_home(Path(scratch))
        results = warehouse.submit_many(files, home)
        rejected = [r.message or r.status for r in results if r.status != "accepted"]
        if rejected:
            raise SystemExit(f"samples rejected: {rejected}")
        with warehouse.write_connection(home) as con:
            sql_runner.run(con)
        started = time.perf_counter()
        result = export_home(home, config=DisclosureConfig())
        seconds = time.perf_counter() - started
        for png in sorted((result.folder / "charts").glob("*.png")):
            shutil.copyfile(png, HERE / f"export_{png.name}")
        shutil.copyfile(
            result.folder / "profiles" / f"{PROFILE}.html", HERE / f"export_profile_{PROFILE}.html"
        )
        print(f"{len(files)} samples; export of {len(result.files)} files in {seconds:.1f} s")


if __name__ == "__main__":
    main()
