"""Property tests (hypothesis) for the harmonizer and the whole read -> validate -> harmonize chain.

Whatever the cells hold, the outcome is a report or a clean load, never an unhandled exception;
and nothing is dropped silently: every row is loaded or named in the report.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.harmonize import harmonize
from tipstats.readers import read_submission
from tipstats.report_frame import REPORT_COLUMNS
from tipstats.validation import validate

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CODELISTS = load_codelists()
TRICKY = ["", " ", "<5", "< 5", "1,282", "1.282", "1 282", "-1", "3.5", "12a", "=1+1", "_T", "0"]


def cell(column: str) -> st.SearchStrategy[str]:
    """Mostly plausible cells (codes, labels, numbers), with junk and edge cases mixed in."""
    if column == C.COUNTRY:
        plausible = st.sampled_from(["NLD", "FRA", "Netherlands", "Côte d'Ivoire", "XXX"])
    elif column == C.YEAR:
        plausible = st.sampled_from(["2019", "2020", "2021", "1999", "21", "2021.0"])
    elif column == C.VALUE:
        plausible = st.integers(0, 3000).map(str)
    elif column == C.COMMENT:
        plausible = st.text(max_size=10)
    else:
        table = CODELISTS.table(column)
        plausible = st.sampled_from([*table["code"], *table["label_en"], *table["label_fr"]])
    junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
    return st.one_of(plausible, plausible, st.sampled_from(TRICKY), junk)


rows = st.lists(
    st.fixed_dictionaries({column: cell(column) for column in C.TEMPLATE_COLUMNS}),
    min_size=1,
    max_size=25,
)


def template_frame(records: list[dict[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(C.TEMPLATE_COLUMNS)).astype("str")
    frame[C.SOURCE_ROW] = pd.array(range(2, len(frame) + 2), dtype="Int64")
    return frame


@SETTINGS
@given(records=rows, layout=st.sampled_from(["template", "dataunodc"]))
def test_harmonize_loads_or_reports_every_row(records, layout):
    frame = template_frame(records)
    observations, report = harmonize(frame, layout, CODELISTS)
    assert list(observations.columns) == list(C.OBSERVATION_COLUMNS)
    assert list(report.columns) == list(REPORT_COLUMNS)
    assert set(report["severity"]) <= {"warning"}
    loaded = set(observations[C.SOURCE_ROW].dropna().astype(int))
    # a row not loaded under its own number was summed into another or reported
    assert set(frame[C.SOURCE_ROW]) - loaded <= named_rows(report)
    assert (observations[C.VALUE].dropna() >= 0).all()
    assert not observations.duplicated(list(C.OBSERVATION_KEY)).any()
    for dimension in C.BREAKDOWN_DIMENSIONS:
        allowed = set(CODELISTS.codes(dimension)) | set(CODELISTS.countries["iso3"])
        assert set(observations[dimension]) <= allowed
    # "censored holds no number" is a property of the validated chain (status.value_inconsistent
    # rejects a figure under status C), checked in test_validate_gives_a_verdict_for_any_cells


def named_rows(report: pd.DataFrame) -> set[int]:
    """Rows a report names: its row column, and the rows listed in a merge's message."""
    named = set(report["row"].dropna().astype(int))
    for message in report["message"].dropna():
        listed = re.match(r"rows ([\d, ]+)", str(message))
        if listed:
            named |= {int(n) for n in re.findall(r"\d+", listed.group(1))}
    return named


# unknown country names go through country_converter (slow per new text): fewer examples
@settings(SETTINGS, max_examples=15)
@given(records=rows)
def test_validate_gives_a_verdict_for_any_cells(records):
    """Rejected with errors, or accepted with observations that hold every row not reported."""
    report = validate(_Parsed(template_frame(records)), CODELISTS)
    assert list(report.table.columns) == list(REPORT_COLUMNS)
    assert report.table["message"].str.len().min() > 0 if len(report.table) else True
    if report.accepted:
        observations = report.observations
        loaded = set(observations[C.SOURCE_ROW].dropna().astype(int))
        assert set(range(2, len(records) + 2)) - loaded <= named_rows(report.table)
        assert not observations.duplicated(list(C.OBSERVATION_KEY)).any()
        censored = observations[C.STATUS] == "C"
        assert observations.loc[censored, C.VALUE].isna().all()
    else:
        assert report.n_errors >= 1


class _Parsed:
    layout = "template"

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.problems = pd.DataFrame(columns=list(REPORT_COLUMNS))


HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment"


@SETTINGS
@given(
    records=rows,
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
    noise=st.binary(max_size=40),
    at=st.floats(0, 1),
)
def test_any_file_gets_a_report_or_a_clean_load(records, delimiter, encoding, noise, at):
    """Bytes of a plausible file, with random bytes spliced in: read, validate and harmonize
    never raise; the verdict is a report with errors or observations."""
    lines = [HEADER.replace(",", delimiter)]
    lines += [delimiter.join(record[c] for c in C.TEMPLATE_COLUMNS) for record in records]
    data = "\n".join(lines).encode(encoding, errors="replace")
    cut = int(at * len(data))
    data = data[:cut] + noise + data[cut:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(data)
        parsed = read_submission(path)
    report = validate(parsed, CODELISTS)
    if report.accepted:
        assert report.observations is not None
        observations, _ = harmonize(parsed.frame, parsed.layout, CODELISTS)
        assert list(observations.columns) == list(C.OBSERVATION_COLUMNS)
    else:
        assert (report.table["severity"] == "error").any()
