"""Flow tests run against Prefect's test harness: a temporary local database, no telemetry.

Prefect reads its settings at import, so they are set here before anything imports it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="tipstats-prefect-"))
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ.pop("PREFECT_API_URL", None)

from flows.settings import configure_prefect  # noqa: E402

configure_prefect()

from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from tipstats.home import Home, samples_dir  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    with prefect_test_harness(server_startup_timeout=120):
        yield
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def sample_files() -> dict[str, Path]:
    """A few bundled samples: two good countries over two years and two defective files."""
    names = ["CAN_2021.csv", "CAN_2022.csv", "ZAF_2021.csv", "ZAF_2022.csv"]
    good = {name: next(samples_dir().rglob(name)) for name in names}
    defective = sorted((samples_dir() / "defective").glob("*.csv"))[:2]
    return {**good, **{path.name: path for path in defective}}
