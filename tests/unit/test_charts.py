"""Charts drawn on a bare Figure give the PNG bytes pyplot's figures gave."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from tipstats import charts  # noqa: E402


def _totals(seed: int, hidden: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        ("GLOTIP", region, name, year, "_T", "_T", "_T", "VICTIMS_DETECTED", value, n)
        for region, name in [("EU", "Europe"), ("AF", "Africa & <more>"), ("AS", "Asia")]
        for year in range(2010, 2020)
        for value, n in [(None if rng.random() < hidden else int(rng.integers(0, 5000)), 7)]
    ]
    columns = ["scheme", "region", "region_name", "year", "sex", "age", "exploitation"]
    frame = pd.DataFrame(rows, columns=[*columns, "indicator", "value", "n_countries"])
    return frame.astype({"value": "Int64", "year": "int32"})


def _with_pyplot() -> tuple[object, object]:
    return plt.subplots(figsize=(9, 5.4))


@pytest.mark.parametrize("hidden", [0.2, 1.0])  # 1.0: nothing published
def test_same_png_as_pyplot_figure(monkeypatch: pytest.MonkeyPatch, hidden: float) -> None:
    totals = _totals(3, hidden)
    bare = charts.to_png(charts.victims_by_region(totals))
    monkeypatch.setattr(charts, "_figure", _with_pyplot)
    figure = charts.victims_by_region(totals)
    plotted = charts.to_png(figure)
    plt.close(figure)
    assert bare[:8] == b"\x89PNG\r\n\x1a\n"
    assert bare == plotted
