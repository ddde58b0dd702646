"""Charts of the published tables (matplotlib, Agg renderer): figures in, PNG bytes out.

Charts draw only published (already protected) values; a hidden value is a gap, never a guess.
Every chart carries its source and coverage in a caption under the axes.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from tipstats.columns import AGE, EXPLOITATION, INDICATOR, SEX, TOTAL, YEAR

SOURCE = "Source: national submissions to tipstats (UNODC GLOTIP data collection)."
DEFAULT_SCHEME = "GLOTIP"
VICTIMS = "VICTIMS_DETECTED"
# PNG metadata without the matplotlib version: the same figure gives the same bytes.
_PNG_METADATA = {"Software": None}


def to_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata=_PNG_METADATA)
    return buffer.getvalue()


def _figure() -> tuple[Figure, object]:
    # A bare Figure renders to PNG with Agg like pyplot's, without importing pyplot (~0.3 s at
    # start-up), choosing a GUI backend, or keeping the figure open until closed.
    figure = Figure(figsize=(9, 5.4))
    return figure, figure.subplots()


def _caption(figure: Figure, coverage: str) -> None:
    figure.text(0.01, 0.01, f"{SOURCE}\n{coverage}", fontsize=7.5, color="#444444", va="bottom")


def _scheme(frame: pd.DataFrame, scheme: str) -> pd.DataFrame:
    if "scheme" in frame.columns and (frame["scheme"] == scheme).any():
        return frame[frame["scheme"] == scheme]
    return frame


def _region_label(frame: pd.DataFrame) -> pd.Series:
    return frame["region_name"] if "region_name" in frame.columns else frame["region"]


def _latest_year(frame: pd.DataFrame) -> int | None:
    return int(frame[YEAR].max()) if len(frame) else None


def victims_by_region(totals: pd.DataFrame, scheme: str = DEFAULT_SCHEME) -> Figure:
    """Detected victims per year, one line per region (gaps where a value is hidden)."""
    frame = _scheme(totals, scheme)
    for column in (SEX, AGE, EXPLOITATION):
        if column in frame.columns:
            frame = frame[frame[column] == TOTAL]
    if INDICATOR in frame.columns:
        frame = frame[frame[INDICATOR] == VICTIMS]
    frame = frame.assign(label=_region_label(frame))
    figure, axes = _figure()
    figure.subplots_adjust(bottom=0.2, right=0.7)
    for label, rows in frame.groupby("label", sort=True):
        rows = rows.sort_values(YEAR)
        axes.plot(
            rows[YEAR],
            rows["value"].astype("Float64").to_numpy(float),
            marker="o",
            markersize=3,
            label=str(label),
        )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(frame):
        # The years of the table, not of the points left: hidden values must not move the axis.
        axes.set_xlim(int(frame[YEAR].min()) - 0.5, int(frame[YEAR].max()) + 0.5)
    if not pd.to_numeric(frame["value"], errors="coerce").notna().any():
        _nothing_published(axes)
    axes.set_title(f"Detected victims of trafficking by region ({scheme} regions)")
    axes.set_xlabel("Year")
    axes.set_ylabel("Detected victims (persons)")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    n = frame["n_countries"] if "n_countries" in frame.columns else None
    coverage = (
        f"Coverage: {int(n.min())} to {int(n.max())} reporting countries per region and year; "
        "totals are sums over reporting countries, no imputation; a total of fewer than 3 "
        "countries is hidden (a gap)."
        if n is not None and len(n)
        else "Totals are sums over reporting countries, no imputation."
    )
    _caption(figure, coverage)
    return figure


def _nothing_published(axes) -> None:
    axes.text(
        0.5,
        0.5,
        "Every value is hidden: no region pools enough countries",
        transform=axes.transAxes,
        ha="center",
        va="center",
        color="#666666",
    )


def _stacked_shares(
    shares: pd.DataFrame, category: pd.Series, title: str, scheme: str, what: str
) -> Figure:
    frame = _scheme(shares, scheme).assign(category=category)
    year = _latest_year(frame)
    frame = frame[frame[YEAR] == year] if year is not None else frame
    label = _region_label(frame).astype(str)
    if "base_countries" in frame.columns:
        n = pd.to_numeric(frame["base_countries"], errors="coerce").fillna(0).astype(int)
        label = label + " (" + n.astype(str) + n.map({1: " country"}).fillna(" countries") + ")"
    frame = frame.assign(label=label.map(lambda text: textwrap.fill(text, 26)))
    order = list(dict.fromkeys(frame["category"]))
    table = frame.pivot_table(
        index="label", columns="category", values="share", aggfunc="sum", dropna=False
    ).sort_index(ascending=False)
    table = table[[c for c in order if c in table.columns]]
    figure, axes = _figure()
    figure.subplots_adjust(bottom=0.2, left=0.27, right=0.76)
    left = pd.Series(0.0, index=table.index)
    for column in table.columns:
        widths = table[column].astype(float).fillna(0.0)
        axes.barh(table.index.astype(str), widths, left=left, label=str(column))
        left = left + widths
    axes.set_xlim(0, 1)
    if not table.notna().any().any():
        _nothing_published(axes)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel(f"Share of detected victims with known {what}")
    axes.set_title(f"{title}, {year} ({scheme} regions)")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    coverage = (
        f"Shares are pooled counts over the countries reporting {what} (number in brackets); "
        "a share hidden (small count, or fewer than 3 countries pooled) is left blank."
    )
    _caption(figure, coverage)
    return figure


LabelOf = Callable[[str, str], str]


def _code(dimension: str, code: str) -> str:
    return code


def sex_age_shares(
    shares: pd.DataFrame, scheme: str = DEFAULT_SCHEME, label_of: LabelOf = _code
) -> Figure:
    category = [
        f"{label_of(SEX, s)}, {label_of(AGE, a)}"
        for s, a in zip(shares[SEX].astype(str), shares[AGE].astype(str), strict=True)
    ]
    category = pd.Series(category, index=shares.index)
    return _stacked_shares(
        shares, category, "Detected victims by sex and age", scheme, "sex and age"
    )


def exploitation_shares(
    shares: pd.DataFrame, scheme: str = DEFAULT_SCHEME, label_of: LabelOf = _code
) -> Figure:
    frame = shares
    if "rollup" in frame.columns and len(frame):
        preferred = (
            "DATAUNODC" if (frame["rollup"] == "DATAUNODC").any() else frame["rollup"].iloc[0]
        )
        frame = frame[frame["rollup"] == preferred]
    return _stacked_shares(
        frame,
        frame[EXPLOITATION].astype(str).map(lambda c: label_of(EXPLOITATION, c)),
        "Detected victims by form of exploitation",
        scheme,
        "form of exploitation",
    )


def flow_shares(flows: pd.DataFrame, scheme: str = DEFAULT_SCHEME) -> Figure:
    # Flow codes are not in the code lists: show them as words ("TRANSREGIONAL" -> "Transregional").
    category = flows["flow"].astype(str).str.replace("_", " ").str.capitalize()
    return _stacked_shares(flows, category, "Detected victims by flow", scheme, "citizenship")
