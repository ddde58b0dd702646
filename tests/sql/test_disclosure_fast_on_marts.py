"""Generated submissions -> warehouse -> marts: every report table is published exactly as the
previous disclosure search published it (``tests/unit/disclosure_previous.py``, the oracle)."""

from __future__ import annotations

import disclosure_previous
import pandas as pd
import pytest

from tipstats import report_tables, sql_runner, warehouse
from tipstats.codelists import load_codelists
from tipstats.disclosure import DisclosureConfig
from tipstats.exports import _with_region_names
from tipstats.home import resolve_home
from tipstats.report_tables import BUILDERS, build_report_tables
from tipstats.sample_files import generate_sample_files

# About 30 s on a busy 2-core box: submits, builds, then both searches on every table.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def marts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("generated")
    files = generate_sample_files(root / "files", 3, [2022, 2023], seed=8)
    home = resolve_home(root / "home")
    results = warehouse.submit_many(sorted((root / "files").glob("*.csv")), home, workers=1)
    assert all(r.status == "accepted" for r in results), files
    with warehouse.write_connection(home) as con:
        sql_runner.run(con)
    tables = warehouse.read_tables(home, list(BUILDERS))
    codes = load_codelists()
    return {name: _with_region_names(frame, codes) for name, frame in tables.items()}


@pytest.mark.parametrize(
    "config",
    [DisclosureConfig(), DisclosureConfig(threshold=3, publish_zero=True)],
    ids=["default", "threshold3-zeros"],
)
def test_every_table_published_as_the_previous_search_did(
    marts, config: DisclosureConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = build_report_tables(marts, config)
    monkeypatch.setattr(report_tables, "protect", disclosure_previous.protect)
    monkeypatch.setattr(report_tables, "audit", disclosure_previous.audit)
    plain = build_report_tables(marts, config)
    assert [t.name for t in fast] == [t.name for t in plain] and len(fast) == len(BUILDERS)
    for new, old in zip(fast, plain, strict=True):
        pd.testing.assert_frame_equal(new.frame, old.frame, obj=new.name)
        assert len(new.audit) == len(old.audit) and new.n_exposed == old.n_exposed == 0
    hidden = fast[-1].frame["flag"].eq("suppressed_secondary").sum()
    assert hidden > 0  # the country table needed the search
