"""Disclosure control in chunks of whole sub-tables gives what one pass over the table gives:
the same flags, published values and audit; and the same error when a table cannot be
protected. The pool tests use the real process pool (forced with small thresholds)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from tipstats import checking, disclosure_parallel, report_tables
from tipstats.disclosure import DisclosureConfig, DisclosureError, audit, protect

T = "_T"
DIMS = ["sex", "age", "exploitation"]
KEYS = ["country", "year"]


def country_table(seed: int, countries: int = 8, years: int = 2) -> pd.DataFrame:
    """Sex x age x form counts with every margin, one block per country-year; small counts,
    cells censored at source and missing cells; blocks of different sizes."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(countries):
        for year in range(2020, 2020 + years):
            interior = rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40], size=(2, 2, 3))
            cube = np.zeros((3, 3, 4))
            cube[:2, :2, :3] = interior
            cube[2, :, :] = cube[:2, :, :].sum(axis=0)
            cube[:, 2, :] = cube[:, :2, :].sum(axis=1)
            cube[:, :, 3] = cube[:, :, :3].sum(axis=2)
            forms = ["SEXUAL", "FORCED_LABOUR", "OTHER", T] if c % 3 else ["SEXUAL", "OTHER", T]
            for i, sex in enumerate(["F", "M", T]):
                for j, age in enumerate(["Y0T17", "Y_GE18", T]):
                    for form in forms:
                        k = ["SEXUAL", "FORCED_LABOUR", "OTHER", T].index(form)
                        value = cube[i, j, k] if form != T or c % 3 else cube[i, j, [0, 2]].sum()
                        rows.append((f"C{c:02d}", year, sex, age, form, float(value)))
    frame = pd.DataFrame(rows, columns=[*KEYS, *DIMS, "value"])
    small = frame.index[frame["value"].between(1, 4)]
    censored = rng.choice(small, size=len(small) // 5, replace=False)
    frame["status"] = "A"
    frame.loc[censored, "status"] = "C"
    frame.loc[censored, "value"] = np.nan
    frame["rate_per_100k"] = frame["value"] / 10.0
    return frame


def in_process(frame: pd.DataFrame, config: DisclosureConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    censored = frame["status"].eq("C").to_numpy()
    protected = protect(
        frame, DIMS, config, keys=KEYS, censored=censored, at_least=["exploitation"]
    )
    return protected, audit(protected, DIMS, config, keys=KEYS, at_least=["exploitation"])


def in_chunks(
    frame: pd.DataFrame, config: DisclosureConfig, n_chunks: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return disclosure_parallel.protect_and_audit_in_pool(
        frame,
        DIMS,
        config,
        keys=KEYS,
        chunks=disclosure_parallel.chunks_of(frame, KEYS, n_chunks),
        workers=2,
        masks=disclosure_parallel.Masks(censored=frame["status"].eq("C").to_numpy()),
        at_least=["exploitation"],
    )


def assert_same_audit(new: pd.DataFrame, old: pd.DataFrame) -> None:
    """The same cells checked, with the same verdicts. ``low``/``high`` are inner bounds of each
    interval, found from the vertices the checker happened to visit or remember (its memory of
    blocks already answered lives in each process): they may differ and are not published."""
    verdicts = ["cell", "flag", "exposed"]
    pd.testing.assert_frame_equal(new[verdicts], old[verdicts])
    assert list(new.columns) == list(old.columns)


def test_chunks_hold_whole_sub_tables_in_table_order_with_about_as_many_rows() -> None:
    frame = country_table(1, countries=10)
    chunks = disclosure_parallel.chunks_of(frame, KEYS, 4)
    assert len(chunks) == 4
    assert np.array_equal(np.concatenate(chunks), np.arange(len(frame)))
    blocks = [set(map(tuple, frame.iloc[rows][KEYS].to_numpy())) for rows in chunks]
    assert all(not a & b for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    sizes = [len(rows) for rows in chunks]
    largest_block = int(frame.groupby(KEYS).size().max())
    assert max(sizes) - min(sizes) <= 2 * largest_block


def test_chunks_of_interleaved_sub_tables_keep_each_one_whole() -> None:
    frame = country_table(2, countries=3, years=1)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    chunks = disclosure_parallel.chunks_of(shuffled, KEYS, 2)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(len(shuffled)))
    for rows in chunks:
        assert list(rows) == sorted(rows)
        mine = shuffled.iloc[rows].groupby(KEYS).size()
        assert (mine == shuffled.groupby(KEYS).size().loc[mine.index]).all()


def test_small_tables_and_one_worker_stay_in_process() -> None:
    assert disclosure_parallel.worker_count(None, 500) == 1
    assert disclosure_parallel.worker_count(1, 10**6) == 1
    assert disclosure_parallel.worker_count(2, 10**6) == 2
    with pytest.raises(ValueError, match="at least 1"):
        disclosure_parallel.worker_count(0, 10**6)


@pytest.mark.parametrize(
    "config",
    [DisclosureConfig(), DisclosureConfig(threshold=3, publish_zero=True)],
    ids=["default", "threshold3-zeros"],
)
def test_chunks_in_the_pool_give_what_one_pass_gives(config: DisclosureConfig) -> None:
    frame = country_table(5)
    whole, whole_audit = in_process(frame, config)
    chunked, chunked_audit = in_chunks(frame, config)
    pd.testing.assert_frame_equal(chunked, whole)
    assert_same_audit(chunked_audit, whole_audit)
    assert whole["flag"].eq("suppressed_secondary").any()  # the search had work to do


def test_interleaved_sub_tables_in_the_pool_give_what_one_pass_gives() -> None:
    frame = country_table(6, countries=4).sample(frac=1.0, random_state=1)
    frame = frame.reset_index(drop=True)
    whole, whole_audit = in_process(frame, DisclosureConfig())
    chunked, chunked_audit = in_chunks(frame, DisclosureConfig(), n_chunks=3)
    pd.testing.assert_frame_equal(chunked, whole)
    assert_same_audit(chunked_audit, whole_audit)


def test_country_table_published_the_same_with_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    mart = country_table(7, countries=9).assign(series="VI")
    config = DisclosureConfig()
    plain = report_tables.country_table(mart, config)
    monkeypatch.setattr(disclosure_parallel, "MIN_ROWS_PER_WORKER", 100)
    submitted = []
    pool = checking.shared_pool(2)
    real_submit = pool.submit
    monkeypatch.setattr(pool, "submit", lambda *a, **k: submitted.append(a) or real_submit(*a, **k))
    fast = report_tables.country_table(mart, config)
    assert len(submitted) > 2  # it did go to the pool, in more chunks than workers
    pd.testing.assert_frame_equal(fast.frame, plain.frame)
    assert_same_audit(fast.audit, plain.audit)
    assert fast.n_exposed == 0


def test_small_table_never_asks_for_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(workers: int) -> None:
        raise AssertionError("a small table went to the pool")

    monkeypatch.setattr(checking, "shared_pool", no_pool)
    table = report_tables.country_table(
        country_table(8, countries=2).assign(series="VI"), DisclosureConfig()
    )
    assert len(table.frame) and table.n_exposed == 0


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the inf cell
def test_an_error_in_a_worker_reaches_the_caller_as_in_process() -> None:
    frame = country_table(9, countries=6)
    frame.loc[(frame["country"] == "C04") & (frame["sex"] == T), "value"] = np.inf
    with pytest.raises(ValueError) as plain:
        in_process(frame, DisclosureConfig())
    with pytest.raises(ValueError) as pooled:
        in_chunks(frame, DisclosureConfig())
    assert str(pooled.value) == str(plain.value)


def _failing_protect(countries: set[str]):
    """``protect`` that fails as the search does, naming a cell by its position, on the first
    sub-table of ``countries`` it meets."""

    def fake(table: pd.DataFrame, *args, **kwargs) -> pd.DataFrame:
        frame = table.reset_index(drop=True)
        hit = np.flatnonzero(frame["country"].isin(countries).to_numpy())
        if len(hit):
            cell = int(hit[3])
            where = frame.iloc[cell][["country", "year", "value"]].to_dict()
            raise DisclosureError(
                f"cannot protect cell {cell}: every cell linked to it is already hidden "
                f"(row {where})",
                cell=cell,
            )
        return protect(table, *args, **kwargs)

    return fake


@pytest.mark.parametrize("countries", [{"C05"}, {"C02", "C06"}], ids=["one chunk", "two chunks"])
def test_a_disclosure_error_names_the_cell_of_the_whole_table(
    countries: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = country_table(10)
    # a failing table is rare in practice: the search is replaced in this process (threads
    # stand in for the pool's workers) by one that fails the way the search does
    monkeypatch.setattr(disclosure_parallel, "protect", _failing_protect(countries))
    with ThreadPoolExecutor(max_workers=2) as threads:
        monkeypatch.setattr(checking, "shared_pool", lambda workers: threads)
        with pytest.raises(DisclosureError) as pooled:
            in_chunks(frame, DisclosureConfig())
    with pytest.raises(DisclosureError) as plain:
        _failing_protect(countries)(frame, DIMS, DisclosureConfig(), keys=KEYS)
    assert str(pooled.value) == str(plain.value)
    assert pooled.value.cell == plain.value.cell
    assert pooled.value.cell > 60  # not the first chunk: the position was mapped back


def test_a_broken_pool_falls_back_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures.process import BrokenProcessPool

    class Broken:
        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(checking, "shared_pool", lambda workers: Broken())
    frame = country_table(11, countries=4)
    whole, whole_audit = in_process(frame, DisclosureConfig())
    chunked, chunked_audit = in_chunks(frame, DisclosureConfig())
    pd.testing.assert_frame_equal(chunked, whole)
    assert_same_audit(chunked_audit, whole_audit)
