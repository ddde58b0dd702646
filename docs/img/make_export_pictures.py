"""Regenerate the pictures of docs/exports.md from the synthetic marts of the export tests.

Run from the checkout: ``.venv/bin/python docs/img/make_export_pictures.py``. It exports into a
temporary folder and copies the charts here; nothing else in the repository is written.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from tipstats.disclosure import DisclosureConfig
from tipstats.exports import export_tables

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "tests" / "unit" / "test_exports.py"


def main() -> None:
    spec = importlib.util.spec_from_file_location("export_fixtures", FIXTURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cells = module.country_cells()
    sdg = module.sdg_mart(cells)
    marts = {**module.region_marts(cells, sdg), "sdg_16_2_2": sdg}
    with tempfile.TemporaryDirectory() as scratch:
        result = export_tables(marts, Path(scratch), config=DisclosureConfig())
        for png in sorted((result.folder / "charts").glob("*.png")):
            shutil.copyfile(png, HERE / f"export_{png.name}")
        profile = result.folder / "profiles" / "AUT.html"
        shutil.copyfile(profile, HERE / "export_profile_AUT.html")


if __name__ == "__main__":
    main()
