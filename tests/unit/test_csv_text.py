"""The column-wise CSV text against ``DataFrame.to_csv``, byte for byte."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tipstats.csv_text import csv_bytes

TEXTS = ["plain", "a,b", 'say "hi"', "line\nbreak", "cr\rhere", "", " lead", "Ünïcødé", "=1+2"]


def _pandas(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _awkward_floats(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random bit patterns (every exponent), whole numbers, and the special values."""
    bits = rng.integers(0, 2**63, n, dtype=np.int64).view(np.float64)
    special = np.array([0.1 + 0.2, 1 / 3, 5.0, -0.0, 1e16, 1e-5, 1e-4, 123456789.0, np.inf])
    return np.where(rng.random(n) < 0.5, bits, rng.choice(special, n) * rng.choice([1, -1], n))


def _mixed_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gaps = rng.random(n) < 0.3
    floats = _awkward_floats(rng, n)
    nullable_floats = pd.array(floats, dtype="Float64")
    nullable_floats[gaps] = pd.NA
    numpy_floats = floats.copy()
    numpy_floats[rng.random(n) < 0.2] = np.nan
    ints = pd.array(rng.integers(-(10**12), 10**12, n), dtype="Int64")
    ints[gaps] = pd.NA
    texts = rng.choice(TEXTS, n).astype(object)
    texts[rng.random(n) < 0.1] = None
    objects = np.array(
        [[1.5, None, np.nan, True, "x,y", 7, ["A", "B"]][i % 7] for i in range(n)], dtype=object
    )
    return pd.DataFrame(
        {
            "str": pd.Series(texts, dtype="str"),
            "string": pd.Series(texts, dtype="string"),
            "year": rng.integers(1990, 2030, n).astype("int32"),
            "n": rng.integers(-5, 10**9, n).astype("int64"),
            "value": ints,
            "share": nullable_floats,
            "population": numpy_floats,
            "ok": rng.random(n) < 0.5,
            "objects": objects,
            'a "quoted", name': rng.integers(0, 3, n).astype("uint8"),
        }
    )


@pytest.mark.parametrize("seed", range(6))
def test_same_bytes_as_pandas(seed: int) -> None:
    frame = _mixed_frame(3000, seed)
    assert csv_bytes(frame) == _pandas(frame)


def test_same_bytes_without_gaps_or_quotes_and_when_empty() -> None:
    frame = _mixed_frame(200, 9).dropna()
    plain = frame.assign(str="x", string="y")
    for case in (frame, plain, frame.iloc[0:0]):
        assert csv_bytes(case) == _pandas(case)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"one": ["", "a"]}),  # a single empty field is written as ""
        pd.DataFrame({"when": pd.to_datetime(["2024-01-02", None]), "x": [1, 2]}),
        pd.DataFrame({"cat": pd.Categorical(["a", None]), "x": [1, 2]}),
        pd.DataFrame({"f32": np.array([0.1, 2.5], dtype=np.float32), "x": [1, 2]}),
        pd.DataFrame({"flag": pd.array([True, None], dtype="boolean"), "x": [1, 2]}),
        pd.DataFrame([[1, "a"]], columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")])),
    ],
)
def test_other_frames_are_left_to_pandas(frame: pd.DataFrame) -> None:
    assert csv_bytes(frame) == _pandas(frame)
