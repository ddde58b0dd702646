"""Disclosure control of a large table in worker processes, chunk by chunk (pure but for the pool).

``disclosure.protect`` and ``disclosure.audit`` treat the sub-tables named by ``keys`` (a
country-year) as independent: no constraint links two of them, and what the search hides in one
depends on nothing in another. A table of thousands of sub-tables can therefore be cut into
chunks of whole sub-tables, each protected and audited on its own, and put back together in the
table's order: the flags come out the same as from one pass over the whole table.

The chunks go to the process pool the ingest already keeps (``checking.shared_pool``): a second
pool would cost its workers' memory again. Each chunk carries only the columns the search reads
(keys, dimensions, value) and its slice of the ``exempt`` / ``censored`` / ``withheld`` masks;
back come the columns ``protect`` adds and the audit rows of the chunk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tipstats.allocator import give_freed_memory_back
from tipstats.disclosure import DisclosureConfig, DisclosureError, audit, protect

# Below this many rows per worker, shipping chunks out costs more than it saves (a world
# country table has ~230,000 rows and takes ~30 s of search; the regional tables ~10,000, < 1 s).
MIN_ROWS_PER_WORKER = 20_000
# Chunks per worker: sub-tables differ in how much searching they need, so a few chunks each
# let a worker that drew easy ones take another instead of waiting.
CHUNKS_PER_WORKER = 4


@dataclass(frozen=True)
class Masks:
    """The per-row masks ``protect`` takes, aligned with the table's rows (None: not given)."""

    exempt: np.ndarray | None = None
    censored: np.ndarray | None = None
    withheld: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> Masks:
        masks = (self.exempt, self.censored, self.withheld)
        return Masks(*(None if m is None else np.asarray(m, dtype=bool)[rows] for m in masks))


def worker_count(workers: int | None, n_rows: int) -> int:
    """Workers worth using for ``n_rows``: ``workers`` (default ``os.cpu_count()``, as the
    ingest's ``submit_many``), fewer when each would get less than ``MIN_ROWS_PER_WORKER``."""
    wanted = workers if workers is not None else (os.cpu_count() or 1)
    if wanted < 1:
        raise ValueError(f"workers must be at least 1, not {wanted}")
    return max(1, min(wanted, n_rows // MIN_ROWS_PER_WORKER))


def chunks_of(frame: pd.DataFrame, keys: Sequence[str], n_chunks: int) -> list[np.ndarray]:
    """Row positions of up to ``n_chunks`` chunks of whole sub-tables, with about as many rows
    each, every chunk's rows in table order; sub-tables in order of first appearance."""
    if not keys or n_chunks <= 1 or not len(frame):
        return [np.arange(len(frame))]
    block = frame.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy()
    sizes = np.bincount(block)
    # a sub-table goes to the chunk its middle row falls in, by cumulative rows
    ends = np.cumsum(sizes)
    middle = ends - sizes / 2
    chunk_of_block = np.minimum((middle * n_chunks // len(frame)).astype(np.int64), n_chunks - 1)
    chunk_of_row = chunk_of_block[block]
    chunks = [np.flatnonzero(chunk_of_row == k) for k in range(n_chunks)]
    return [rows for rows in chunks if len(rows)]


def protect_and_audit_in_pool(
    table: pd.DataFrame,
    dimensions: Sequence[str],
    config: DisclosureConfig,
    *,
    keys: Sequence[str],
    chunks: Sequence[np.ndarray],
    workers: int,
    value: str = "value",
    masks: Masks = Masks(),
    at_least: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``protect`` then ``audit`` of each chunk in the shared pool: (protected table, audit).

    The protected table is ``protect``'s for the whole table (its rows in order, the columns it
    adds); the audit has ``audit``'s rows for the whole table, cells by position in it, and
    its verdicts (``low``/``high`` are inner bounds, which depend on what each process's checker
    remembers of blocks it answered before, as they do in one process). A
    ``DisclosureError`` is the one the whole table gives in process: that of the one chunk that
    failed, its cell a position in the table; when several failed, the whole table is run here
    to find which error comes first. Should the pool break (a worker killed), the chunks are
    done in this process instead.
    """
    from tipstats.checking import shared_pool

    frame = table.reset_index(drop=True)
    needed = list(dict.fromkeys([*keys, *dimensions, value]))
    tasks = [
        _Chunk(
            frame=frame.iloc[rows][needed].reset_index(drop=True),
            dimensions=tuple(dimensions),
            config=config,
            keys=tuple(keys),
            value=value,
            masks=masks.take(rows),
            at_least=tuple(at_least),
        )
        for rows in chunks
    ]
    try:
        pool = shared_pool(workers)
        futures: list[Future[_Done]] = [pool.submit(_protect_chunk, task) for task in tasks]
        try:
            done = [future.result() for future in futures]
        finally:  # an error in one chunk: the others not started are of no use
            for future in futures:
                future.cancel()
    except BrokenProcessPool:
        done = [_protect_chunk(task) for task in tasks]
    failed = [(rows, d.error) for rows, d in zip(chunks, done, strict=True) if d.error]
    if len(failed) == 1:
        # the other chunks went through: the whole table fails on this chunk's sub-table alone
        # and with its error, the cell a position in the whole table
        rows, (message, cell) = failed[0]
        if cell is None:
            raise DisclosureError(message)
        where = int(rows[cell])
        raise DisclosureError(re.sub(rf"\bcell {cell}\b", f"cell {where}", message), cell=where)
    if failed:
        # which sub-table's error one pass over the whole table meets first depends on the
        # search's rounds across them: that pass tells (errors are rare, so is the cost)
        protected = protect(
            frame,
            dimensions,
            config,
            keys=keys,
            value=value,
            exempt=masks.exempt,
            censored=masks.censored,
            withheld=masks.withheld,
            at_least=at_least,
        )
        return protected, audit(
            protected, dimensions, config, keys=keys, value=value, at_least=at_least
        )
    return _assembled(frame, chunks, done)


@dataclass
class _Chunk:
    frame: pd.DataFrame
    dimensions: tuple[str, ...]
    config: DisclosureConfig
    keys: tuple[str, ...]
    value: str
    masks: Masks
    at_least: tuple[str, ...]


@dataclass
class _Done:
    added: pd.DataFrame | None  # the columns protect added, one row per row of the chunk
    audit: pd.DataFrame | None  # cells by position in the chunk
    error: tuple[str, int | None] | None = None  # a DisclosureError's message and cell


def _protect_chunk(task: _Chunk) -> _Done:
    """In a worker: what ``report_tables.protect_counts`` does in process, on one chunk."""
    try:
        return _protected_chunk(task)
    finally:
        give_freed_memory_back()


def _protected_chunk(task: _Chunk) -> _Done:
    try:
        protected = protect(
            task.frame,
            task.dimensions,
            task.config,
            keys=task.keys,
            value=task.value,
            exempt=task.masks.exempt,
            censored=task.masks.censored,
            withheld=task.masks.withheld,
            at_least=task.at_least,
        )
        result = audit(
            protected,
            task.dimensions,
            task.config,
            keys=task.keys,
            value=task.value,
            at_least=task.at_least,
        )
    except DisclosureError as problem:
        # the message travels as text; the cell as a position the caller maps back to the table
        return _Done(None, None, (str(problem), problem.cell))
    added = [c for c in protected.columns if c not in task.frame.columns]
    return _Done(protected[added], result)


def _assembled(
    frame: pd.DataFrame, chunks: Sequence[np.ndarray], done: Sequence[_Done]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.concatenate(chunks)
    added = pd.concat([d.added for d in done], ignore_index=True)
    if not np.array_equal(order, np.arange(len(order))):
        added = added.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    # the arrays themselves: the dtypes protect gives (nullable ints, strings) stay
    protected = frame.assign(**{c: added[c].array for c in added.columns})
    audits = [
        d.audit.assign(cell=rows[d.audit["cell"].to_numpy(dtype=np.int64)])
        for rows, d in zip(chunks, done, strict=True)
        if d.audit is not None and len(d.audit)
    ]
    if not audits:
        first = done[0].audit
        return protected, first if first is not None else pd.DataFrame()
    result = pd.concat(audits, ignore_index=True)
    # the whole table's audit lists hidden cells in table order
    result = result.sort_values("cell", kind="stable", ignore_index=True)
    return protected, result


__all__ = [
    "CHUNKS_PER_WORKER",
    "MIN_ROWS_PER_WORKER",
    "Masks",
    "chunks_of",
    "protect_and_audit_in_pool",
    "worker_count",
]
