"""code_frame's shortcuts and duplicated_keys give what the plain computations give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.harmonize import (
    classify_counts,
    code_frame,
    duplicated_keys,
    harmonize,
    parse_years,
)
from tipstats.sample_files import generate_sample_files


@pytest.fixture(scope="module")
def codelists():
    return load_codelists()


def messy_frame(dtype: str) -> pd.DataFrame:
    values = ["1.282.000", "1.282", " 12 ", "12", "<5", "", None, "-3", "1,5", "7.0", "x"]
    years = ["2021", " 2021", "2021.0", "21", None, "2022", "", "2022 ", "abc", "2020", "2020"]
    n = len(values)
    data = {column: ["" for _ in range(n)] for column in C.TEMPLATE_COLUMNS}
    data[C.VALUE] = values
    data[C.YEAR] = years
    data[C.COUNTRY] = [
        "NLD",
        " NLD",
        "Netherlands",
        None,
        "XXX",
        "NLD",
        "",
        "nld",
        "NLD",
        "",
        "NLD",
    ]
    data[C.SEX] = ["F", "F ", "Female", "?", None, "_T", "", "M", "M", "F", "F"]
    return pd.DataFrame({k: pd.Series(v, dtype=dtype) for k, v in data.items()})


@pytest.mark.parametrize("dtype", ["str", "string", "object"])
def test_codes_from_the_factors_equal_parsing_the_cleaned_text(codelists, dtype: str) -> None:
    frame = messy_frame(dtype)
    coded = code_frame(frame, codelists)
    counts = classify_counts(coded.text[C.VALUE])
    pd.testing.assert_series_equal(coded.codes[C.VALUE], counts["value"], check_names=False)
    pd.testing.assert_series_equal(
        coded.codes["value_kind"].astype(object), counts["kind"].astype(object), check_names=False
    )
    years = parse_years(coded.text[C.YEAR])
    pd.testing.assert_series_equal(coded.codes[C.YEAR], years, check_names=False)
    # the dotted thousands of the file make `1.282` a count; dirty cells are cleaned
    assert coded.codes[C.VALUE].tolist()[:4] == [1282000, 1282, 12, 12]


def chunked(values: list[object], dtype: str) -> pd.Series:
    """A text column whose arrow memory is in several chunks, as a filtered frame's can be."""
    chunks = [pa.array(values[i : i + 7], type=pa.large_string()) for i in range(0, len(values), 7)]
    return pd.Series(
        pd.arrays.ArrowStringArray(
            pa.chunked_array(chunks),
            dtype=pd.StringDtype("pyarrow", na_value=pd.NA if dtype == "string" else np.nan),
        )
    )


@pytest.mark.parametrize("dtype", ["string", "str"])
def test_duplicated_keys_on_chunked_arrow_text_is_pandas_duplicated(dtype: str) -> None:
    rng = np.random.default_rng(7)
    n = 60
    frame = pd.DataFrame(
        {
            "a": chunked(list(rng.choice(["x", "y", "z"], n)), dtype),
            "b": chunked([v if v != "-" else None for v in rng.choice(["p", "-", "q"], n)], dtype),
            "c": pd.Series(rng.integers(0, 3, n), dtype="Int64"),
        }
    )
    assert frame["a"].array._pa_array.num_chunks > 1
    expected = frame.duplicated(["a", "b", "c"], keep=False)
    pd.testing.assert_series_equal(duplicated_keys(frame, ["a", "b", "c"]), expected)
    assert 0 < expected.sum() < n
    # the same cells in one chunk: the same answer
    single = frame.assign(a=pd.Series(frame["a"].tolist(), dtype=dtype))
    pd.testing.assert_series_equal(duplicated_keys(single, ["a", "b", "c"]), expected)


def test_harmonize_of_generated_files_with_repeated_rows(codelists, tmp_path) -> None:
    """Rows repeated (merged as duplicates) and chunked columns: the same observations as the
    same cells read from one plain object frame."""
    path = generate_sample_files(tmp_path, 2, [2022], seed=2).paths[0]
    text = pd.read_csv(path, dtype=str, keep_default_na=False)
    text = pd.concat([text, text.iloc[:5]], ignore_index=True)
    text[C.SOURCE_ROW] = pd.array(np.arange(2, len(text) + 2), dtype="Int64")
    arrow = text.astype({c: "str" for c in C.TEMPLATE_COLUMNS})
    plain = text.astype({c: object for c in C.TEMPLATE_COLUMNS})
    obs_arrow, report_arrow = harmonize(arrow, "template", codelists)
    obs_plain, report_plain = harmonize(plain, "template", codelists)
    pd.testing.assert_frame_equal(obs_arrow, obs_plain)
    pd.testing.assert_frame_equal(report_arrow, report_plain)
    assert (report_arrow["rule_id"] == "harmonize.duplicates_repeated").sum() == 5


@pytest.mark.parametrize("dtype", ["str", "string", "object"])
@pytest.mark.parametrize("written", ["codes", "labels"])
def test_codes_equal_a_lookup_cell_by_cell(codelists, tmp_path, dtype: str, written: str) -> None:
    """A file written in codes takes the shortcut (each text its own code), one written in
    labels the gathering; either way, every cell's code is its own lookup."""
    language = "en" if written == "codes" else "fr"
    path = generate_sample_files(tmp_path, 2, [2022], seed=4, language=language).paths[0]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).astype(dtype)
    if written == "codes":
        frame.loc[3, C.SEX] = "female"  # one label among codes: no shortcut for sex
    frame.columns = list(C.TEMPLATE_COLUMNS)
    coded = code_frame(frame, codelists)
    expected_country = [codelists.country_iso3(v) if v else None for v in coded.text[C.COUNTRY]]
    assert coded.codes[C.COUNTRY].tolist() == [pd.NA if v is None else v for v in expected_country]
    for dimension in C.CODED_DIMENSIONS:
        expected = pd.Series(
            [codelists.lookup(dimension, v) if v else None for v in coded.text[dimension]],
            dtype="string",
        )
        pd.testing.assert_series_equal(coded.codes[dimension], expected, check_names=False)
    if written == "codes":
        assert coded.codes[C.SEX].iloc[3] == "F"
    else:
        assert (coded.text[C.SEX] != coded.codes[C.SEX]).any()  # labels were translated


def n_chunks(column: pd.Series) -> int:
    cells = pa.array(column.array)
    return cells.num_chunks if isinstance(cells, pa.ChunkedArray) else 1


@pytest.mark.parametrize("dtype", ["str", "string"])
def test_a_frame_in_many_chunks_is_coded_as_in_one(codelists, dtype: str) -> None:
    pieces = pd.concat([messy_frame(dtype)] * 40, ignore_index=True)
    cells = {c: [None if pd.isna(v) else v for v in pieces[c].tolist()] for c in pieces.columns}
    many = pd.DataFrame({column: chunked(values, dtype) for column, values in cells.items()})
    one = pd.DataFrame({column: pd.Series(values, dtype=dtype) for column, values in cells.items()})
    assert n_chunks(many[C.VALUE]) > 16 and n_chunks(one[C.VALUE]) == 1
    pd.testing.assert_frame_equal(many, one)
    coded_many, coded_one = code_frame(many, codelists), code_frame(one, codelists)
    pd.testing.assert_frame_equal(coded_many.text, coded_one.text)
    pd.testing.assert_frame_equal(coded_many.codes, coded_one.codes)
    for column, (positions, texts) in coded_one.factors.items():
        np.testing.assert_array_equal(coded_many.factors[column][0], positions)
        assert list(coded_many.factors[column][1]) == list(texts)


def test_a_column_in_codes_shares_the_text_memory_of_a_file_in_few_chunks(codelists) -> None:
    """The usual large file (pyarrow reads it in a chunk per 8 MB): its code columns are its
    text columns, not copies (a million-row file would copy 100 MB), with the same codes."""
    codes = ["NLD", "FRA", "SEN", "BRA"] * 25  # 15 chunks of 7 cells
    cells = {column: ["" for _ in codes] for column in C.TEMPLATE_COLUMNS}
    cells[C.COUNTRY] = codes
    cells[C.INDICATOR] = ["VICTIMS_DETECTED"] * len(codes)
    cells[C.YEAR] = ["2021"] * len(codes)
    cells[C.VALUE] = ["3"] * len(codes)
    few = pd.DataFrame({column: chunked(values, "str") for column, values in cells.items()})
    assert 1 < n_chunks(few[C.COUNTRY]) <= 16
    coded = code_frame(few, codelists)
    assert coded.codes[C.COUNTRY].tolist() == codes
    assert coded.codes[C.COUNTRY].dtype == "string"

    def addresses(column: pd.Series) -> set[int]:
        chunks = pa.array(column.array).chunks
        return {buffer.address for chunk in chunks for buffer in chunk.buffers() if buffer}

    assert addresses(coded.codes[C.COUNTRY]) <= addresses(few[C.COUNTRY])
