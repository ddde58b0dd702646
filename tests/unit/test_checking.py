"""The pool: parsed files stay in the workers, the pool is kept between calls, and every file
gets what checking the files one by one in order gives it."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tipstats import checking
from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.sample_files import generate_sample_files

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def pandas_countries(frame: pd.DataFrame, codelists) -> list[str]:
    """The previous ``countries_of``: pandas unique and map."""
    if C.COUNTRY not in frame.columns:
        return []
    texts = pd.Series(frame[C.COUNTRY].dropna().unique(), dtype="string")
    return sorted({str(c) for c in codelists.country_iso3_many(texts).dropna()})


def test_countries_of_equals_the_pandas_computation() -> None:
    codelists = load_codelists()
    paths = sorted((FIXTURES / "good").iterdir()) + sorted((FIXTURES / "bad").iterdir())
    frames = [p.frame for p in (checking.read_file(path)[0] for path in paths) if p is not None]
    odd = pd.DataFrame(
        {C.COUNTRY: ["NLD", None, " ", "Netherlands", "528", "fr", "Atlantis", float("nan")]}
    )
    frames += [odd, odd.astype("string"), odd.astype(object), pd.DataFrame({"year": [1]})]
    assert len(frames) > 30
    named = [checking.countries_of(f, codelists) for f in frames]
    assert named == [pandas_countries(f, codelists) for f in frames]
    assert checking.countries_of(odd, codelists) == ["FRA", "NLD"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    """Generated chains (3 countries x 3 years), a resubmission, an unreadable file, a rejected
    one and a file of two countries linking two chains."""
    root = tmp_path_factory.mktemp("pool")
    made = generate_sample_files(root / "gen", ["CAN", "MEX", "PER"], [2019, 2020, 2021], 3)
    by_name = {p.stem: p for p in made.paths}
    unreadable = root / "scan.pdf"
    unreadable.write_bytes(b"%PDF-1.4 not a submission")
    lines = by_name["MEX_2020"].read_text(encoding="utf-8").splitlines(keepends=True)
    rejected = root / "MEX_2020_bad.csv"
    rejected.write_text(lines[0] + lines[1].replace(",A,", ",Z,") + "".join(lines[2:]))
    lines = by_name["PER_2019"].read_text(encoding="utf-8").splitlines(keepends=True)
    both = root / "PER_CAN.csv"
    both.write_text(lines[0] + lines[1] + lines[2].replace("PER", "CAN"))
    rescaled = root / "CAN_2019_again.csv"
    rescaled.write_text(by_name["CAN_2019"].read_text(encoding="utf-8").replace(",A,", ",E,"))
    return [
        by_name["CAN_2019"],
        by_name["MEX_2019"],
        unreadable,
        by_name["CAN_2020"],
        rejected,
        by_name["PER_2019"],
        rescaled,
        by_name["MEX_2020"],
        both,
        by_name["CAN_2021"],
        by_name["PER_2020"],
        by_name["MEX_2021"],
        by_name["PER_2021"],
    ]


def described(checked: checking.Checked) -> tuple:
    report = checked.report
    return (
        checked.index,
        checked.submission_id,
        checked.countries,
        checked.problem,
        checked.problem_exit_code,
        None if checked.paths is None else (checked.paths.csv.name, checked.paths.html.name),
        None if report is None else (report.layout, report.n_rows, report.table.to_csv()),
    )


def assert_same(got: list[checking.Checked], want: list[checking.Checked]) -> None:
    assert [described(c) for c in got] == [described(c) for c in want]
    for a, b in zip(got, want, strict=True):
        if b.report is not None and b.report.observations is not None:
            pd.testing.assert_frame_equal(a.report.observations, b.report.observations)
            pd.testing.assert_frame_equal(a.report.table, b.report.table)


class Warehouse:
    """What ``submit_many`` gives as history: the accepted files loaded so far."""

    def __init__(self) -> None:
        self.current = pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS))

    def history(self, countries) -> pd.DataFrame:
        return checking.history_of(self.current, countries)

    def load(self, checked: checking.Checked) -> None:
        report = checked.report
        if report is not None and report.accepted and report.observations is not None:
            self.current = checking.after_load(self.current, report.observations)


def in_order(files: list[Path], reports: Path) -> list[checking.Checked]:
    jobs = [checking.Job(i, path, 100 + i) for i, path in enumerate(files)]
    warehouse = Warehouse()
    done = []
    for checked in checking.check_in_order(jobs, warehouse.history, reports, load_codelists()):
        warehouse.load(checked)
        done.append(checked)
    return done


def in_pool(files: list[Path], reports: Path, workers: int = 2) -> list[checking.Checked]:
    jobs = [checking.Job(i, path, 100 + i) for i, path in enumerate(files)]
    return list(checking.check_in_pool(jobs, Warehouse().history, reports, workers))


def test_the_pool_gives_what_checking_in_order_gives_and_is_kept(files, tmp_path) -> None:
    reference = in_order(files, tmp_path / "order")
    statuses = [c.problem is None and c.report.accepted for c in reference]
    assert statuses.count(False) >= 2 and any(c.report is None for c in reference)
    checking.shutdown_pool()
    first = in_pool(files, tmp_path / "pool1")
    (pool,) = checking._pools.values()
    assert_same(first, reference)
    # the next call of the process uses the same workers, with none of the first call's files
    second = in_pool(list(reversed(files)), tmp_path / "pool2")
    assert list(checking._pools.values()) == [pool]
    assert_same(second, in_order(list(reversed(files)), tmp_path / "order2"))
    assert sorted(p.name for p in (tmp_path / "pool1").iterdir()) == sorted(
        p.name for p in (tmp_path / "order").iterdir()
    )
    checking.shutdown_pool()
    assert checking._pools == {}


def test_a_group_reads_again_what_another_worker_read(files, tmp_path) -> None:
    """In this process: no file was read here, so ``_check_group`` reads every file itself."""
    reference = in_order(files[:4], tmp_path / "order")
    jobs = [checking.Job(i, path, 100 + i) for i, path in enumerate(files[:4])]
    reads = [checking._read_job((-1, job)) for job in jobs]  # another call's batch
    links = [(job, *read) for job, read in zip(jobs, reads, strict=True)]
    empty = pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS))
    packed = checking._check_group(-2, links, empty, tmp_path / "pool")
    # what travels back: one frame of observations, no empty report tables
    assert packed.observations is not None and sum(filter(None, packed.lengths)) == len(
        packed.observations
    )
    assert all(c.report is None or c.report.observations is None for c in packed.checked)
    got = packed.unpack()
    assert checking._parsed_here == {}
    assert_same(got, reference)


def test_a_file_changed_between_reading_and_checking_is_rejected(files, tmp_path) -> None:
    copy = tmp_path / "MEX_2019.csv"
    copy.write_bytes(files[1].read_bytes())
    job = checking.Job(0, copy, 7)
    read = checking._read_job((-3, job))
    assert read == (None, ["MEX"])
    checking._parsed_here.clear()  # as if another worker had read it
    copy.write_text(copy.read_text(encoding="utf-8").replace("MEX", "CAN"))
    packed = checking._check_group(-3, [(job, *read)], pd.DataFrame(), tmp_path / "reports")
    (got,) = packed.unpack()
    assert got.report is None and "changed while it was being submitted" in got.problem


def test_checking_in_process_gives_what_checking_in_order_gives(files, tmp_path, monkeypatch):
    from tipstats import validation

    reference = in_order(files, tmp_path / "order")
    calls = []
    real = validation.validate

    def counting(parsed, *args, **kwargs):
        calls.append(parsed.path.name)
        return real(parsed, *args, **kwargs)

    monkeypatch.setattr(validation, "validate", counting)
    jobs = [checking.Job(i, path, 100 + i) for i, path in enumerate(files)]
    got = list(checking.check_in_process(jobs, Warehouse().history, tmp_path / "process"))
    assert_same(got, reference)
    # one pass for the clean files: only the file of two countries is validated alone
    assert calls == ["PER_CAN.csv"]
    assert checking._parsed_here == {}
    assert sorted(p.name for p in (tmp_path / "process").iterdir()) == sorted(
        p.name for p in (tmp_path / "order").iterdir()
    )


def test_files_named_alike_are_read_by_one_worker_in_shares_of_bytes() -> None:
    names = [f"{c}_{y}.csv" for c in ("AFG", "ALB", "DZA", "AND") for y in (2019, 2020, 2021)]
    names.insert(5, "scan.pdf")
    sizes = [100] * len(names)
    shares = checking.share_by_name(names, sizes, 2)
    assert sorted(i for share in shares for i in share) == list(range(len(names)))
    assert all(share == sorted(share) for share in shares)
    assert [len(share) for share in shares] in ([6, 7], [7, 6])
    for country in ("AFG", "ALB", "DZA", "AND"):  # never cut here: the cuts fall between them
        lanes = {k for k, share in enumerate(shares) for i in share if names[i][:3] == country}
        assert len(lanes) == 1
    # one worker: everything; a huge file takes its share of the bytes
    assert checking.share_by_name(names, sizes, 1) == [list(range(len(names)))]
    heavy = checking.share_by_name(names, [1000] + [10] * (len(names) - 1), 2)
    assert heavy[0] == [0] or heavy[1] == [0]


def test_chains_go_to_the_worker_that_read_them_unless_it_would_be_overloaded() -> None:
    # chains of files 0-2 (read by worker 1), 3-4 (worker 0), 5-7 (read by both: mostly 0)
    chains = [[0, 1, 2], [3, 4], [5, 6, 7]]
    read_by = [1, 1, 1, 0, 0, 0, 0, 1]
    routed = checking.route_groups(chains, read_by, [10] * 8, 2)
    assert routed == [(1, [0, 1, 2]), (0, [3, 4, 5, 6, 7])]
    # all read by worker 0: the load is shared anyway
    routed = checking.route_groups(chains, [0] * 8, [10] * 8, 2)
    by_lane = {lane: sum(len(g) for k, g in routed if k == lane) for lane in (0, 1)}
    assert by_lane == {0: 5, 1: 3} or by_lane == {0: 3, 1: 5}
    # many files of a worker: groups of at most max_files, in the order of their first file
    many = [[i] for i in range(10)]
    routed = checking.route_groups(many, [0] * 5 + [1] * 5, [1] * 10, 2, max_files=2)
    assert [g for _, g in routed] == [[0, 1], [2, 3], [4], [5, 6], [7, 8], [9]]
    assert [lane for lane, _ in routed] == [0, 0, 0, 1, 1, 1]


def test_the_worker_that_read_a_chain_checks_it_without_reading_again(tmp_path) -> None:
    made = generate_sample_files(tmp_path / "gen", ["CAN", "MEX", "PER", "CHL"], [2019, 2020], 3)
    files = sorted(made.paths)
    reference = in_order(files, tmp_path / "order")
    pool = checking.shared_pool(2)
    for k in range(2):  # counts of this call only
        pool.lane(k).submit(checking._count_reads_again, True).result()
    assert_same(in_pool(files, tmp_path / "pool"), reference)
    again = [pool.lane(k).submit(checking._count_reads_again).result() for k in range(2)]
    assert again == [0, 0]


def test_the_workers_take_other_tasks_as_they_free_up() -> None:
    pool = checking.shared_pool(2)
    assert list(pool.map(pow, range(20), [3] * 20)) == [n**3 for n in range(20)]
    futures = [pool.submit(divmod, n, 0 if n == 7 else 3) for n in range(12)]
    for n, future in enumerate(futures):
        if n == 7:
            with pytest.raises(ZeroDivisionError):
                future.result()
        else:
            assert future.result() == divmod(n, 3)
    assert pool.submit(os.getpid).result() in {
        pool.lane(k).submit(os.getpid).result() for k in range(2)
    }
