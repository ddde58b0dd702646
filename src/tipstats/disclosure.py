"""Disclosure control on published tables: primary and secondary suppression of small counts.

Pure: frames in, frames out. The warehouse keeps true values; this runs on the way out.

Method (DESIGN.md section 6):

* **Primary suppression.** A count from 1 to ``threshold - 1`` is shown as ``<threshold``. A zero
  is shown as 0 only when ``publish_zero`` allows it; otherwise it is shown as ``<threshold`` as
  well (then ``<5`` means 0..4, else 1..4). A cell censored at source (status C) is primary too.
* **Secondary suppression.** A table with margins obeys linear constraints
  (``total = sum of parts`` along each dimension, or ``total >= sum of parts`` when the data are
  not additive). Every constraint group that holds exactly one suppressed cell gets a second
  one: its smallest published member (interior cells before margins, never a zero unless nothing
  else is left). Then the recovery checker solves the constraints; while it can still pin down a
  suppressed cell, the smallest published cell in a group of that cell is suppressed too. This is
  the classic "at least two per group, then audit" hypercube heuristic: it is not guaranteed to
  suppress the fewest cells, but it never publishes a table the checker can break.
* **Recovery checker.** For each suppressed cell, linear programming (``scipy.optimize.linprog``)
  finds its smallest and largest value given the published cells, the constraints and what the
  reader knows of each hidden cell: a primary cell lies in ``[0 or 1, threshold - 1]``, a
  secondary cell in ``[0, inf)``. A cell is exposed when its interval is a point, and a primary
  cell also when its interval is narrower than ``min_width``.
* **Exemption.** Regional and global aggregates that pool at least ``min_countries`` countries
  are published as they are (the caller marks them ``exempt``); they are used for secondary
  suppression only as a last resort. Country-level cells are never exempt.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from tipstats import disclosure_lp as lp
from tipstats.columns import TOTAL
from tipstats.errors import TipstatsError

OBSERVED = "observed"
SUPPRESSED_PRIMARY = "suppressed_primary"
SUPPRESSED_SECONDARY = "suppressed_secondary"
NOT_AVAILABLE = "not_available"
FLAGS = (OBSERVED, SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY, NOT_AVAILABLE)
SUPPRESSED = (SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY)

FLAG = "flag"
PUBLISHED = "published"
DISPLAY = "display"

# Tolerance for comparing LP optima: counts are integers, so anything below this is a point.
_EPS = 1e-6


class DisclosureError(TipstatsError):
    """A table cannot be protected (inconsistent constraints, or nothing left to suppress)."""

    def __init__(self, message: str, *, cell: int | None = None) -> None:
        super().__init__(message)
        self.cell = cell


@dataclass(frozen=True)
class DisclosureConfig:
    """Rules of the game; ``threshold`` is the smallest count published as it is."""

    threshold: int = 5
    publish_zero: bool = False
    min_countries: int = 3
    min_width: float = 1.0
    secondary_symbol: str = "x"

    def __post_init__(self) -> None:
        if self.threshold < 2:
            raise DisclosureError(f"threshold must be at least 2, got {self.threshold}")
        if self.threshold - 1 - self.primary_lower_bound < self.min_width:
            # "<2" with zeros published can only mean 1: the symbol itself would disclose.
            raise DisclosureError(
                f"threshold {self.threshold} leaves `{self.primary_symbol}` an interval "
                f"narrower than min_width {self.min_width}; raise the threshold"
            )
        if self.min_countries < 1:
            raise DisclosureError(f"min_countries must be at least 1, got {self.min_countries}")

    @property
    def primary_symbol(self) -> str:
        return f"<{self.threshold}"

    @property
    def primary_lower_bound(self) -> float:
        """What ``<threshold`` tells a reader about the lowest possible value."""
        return 1.0 if self.publish_zero else 0.0


@dataclass(frozen=True)
class Constraint:
    """``total == sum(parts)`` when ``exact``, else ``total >= sum(parts)``; rows by position."""

    total: int
    parts: tuple[int, ...]
    exact: bool = True

    @property
    def members(self) -> tuple[int, ...]:
        return (self.total, *self.parts)


# --------------------------------------------------------------------------- constraints


def margin_constraints(
    table: pd.DataFrame,
    dimensions: Sequence[str],
    *,
    keys: Sequence[str] = (),
    value: str = "value",
    assume_exact: bool = False,
    unknown_at_most: float = 0.0,
    at_least: Sequence[str] = (),
) -> list[Constraint]:
    """The ``total = sum of parts`` constraints of a table whose margins are coded ``_T``.

    ``dimensions`` are the hierarchical columns (each has a ``_T`` total); ``keys`` identify
    independent sub-tables (country, year...). A constraint is exact when its parts cover every
    category the sub-table uses in that dimension and the true values add up (with
    ``assume_exact``, whenever the parts are complete, as a reader of the published table would
    assume); when a part is missing or not known, or the parts fall short of the total, it is
    ``total >= sum(parts)``. A part with no value counts as anything up to ``unknown_at_most``
    (``threshold - 1`` for cells censored at source, 0 to treat them as mere gaps).
    Dimensions in ``at_least`` never add up by definition (e.g. a category left out of the
    publication): their relations are always ``total >= sum(parts)``.
    """
    frame = table.reset_index(drop=True)
    values = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=float)
    return _constraints_of(
        _MarginLayout.of(frame, dimensions, keys),
        values,
        assume_exact=assume_exact,
        unknown_at_most=unknown_at_most,
        at_least=at_least,
    )


@dataclass
class _Margin:
    """The groups of one dimension: one total and its parts each, whatever the values."""

    dimension: str
    group: np.ndarray  # group number of each row
    n_groups: int
    is_part: np.ndarray
    total_of: np.ndarray  # row of each group's total (-1: none)
    formed: np.ndarray  # one total and some parts
    complete: np.ndarray  # the parts cover every category the sub-table uses
    parts: list[tuple[int, ...] | None]  # rows of each formed group's parts


@dataclass
class _MarginLayout:
    """What ``margin_constraints`` finds in a table's labels, kept for other values of it.

    Everything by group number, vectorised: a world-sized table has tens of thousands of
    groups. Groups come in pandas' order (first appearance), parts by position.
    """

    margins: list[_Margin]

    @classmethod
    def of(
        cls, frame: pd.DataFrame, dimensions: Sequence[str], keys: Sequence[str]
    ) -> _MarginLayout:
        if not len(frame):
            return cls([])
        text = frame[[*keys, *dimensions]].astype(str)
        key_id = (
            text.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy()
            if keys
            else np.zeros(len(frame), dtype=np.int64)
        )
        margins = []
        for dim in dimensions:
            others = [*keys, *(x for x in dimensions if x != dim)]
            is_total = (frame[dim] == TOTAL).to_numpy(dtype=bool, na_value=False)
            group = (
                frame.groupby(others, sort=False, dropna=False).ngroup().to_numpy()
                if others
                else np.zeros(len(frame), dtype=np.int64)
            )
            n_groups = int(group.max()) + 1
            is_part = ~is_total
            n_totals = np.bincount(group[is_total], minlength=n_groups)
            n_parts = np.bincount(group[is_part], minlength=n_groups)
            total_of = np.full(n_groups, -1, dtype=np.int64)
            total_of[group[is_total]] = np.flatnonzero(is_total)
            formed = (n_totals == 1) & (n_parts > 0)
            # The categories a sub-table uses in this dimension: a group lacking one of them
            # is incomplete, and a reader cannot tell a missing row from a zero.
            label = pd.factorize(text[dim])[0]
            in_group = _distinct_per(group[is_part], label[is_part], n_groups)
            in_key = _distinct_per(key_id[is_part], label[is_part], int(key_id.max()) + 1)
            complete = np.zeros(n_groups, dtype=bool)
            complete[formed] = in_group[formed] == in_key[key_id[total_of[formed]]]
            positions = np.flatnonzero(is_part)
            positions = positions[np.argsort(group[positions], kind="stable")]
            bounds = np.concatenate([[0], np.cumsum(n_parts)]).tolist()
            flat = positions.tolist()
            parts: list[tuple[int, ...] | None] = [None] * n_groups
            for g in np.flatnonzero(formed).tolist():
                parts[g] = tuple(flat[bounds[g] : bounds[g + 1]])
            margins.append(
                _Margin(dim, group, n_groups, is_part, total_of, formed, complete, parts)
            )
        return cls(margins)


def _constraints_of(
    layout: _MarginLayout,
    values: np.ndarray,
    *,
    assume_exact: bool,
    unknown_at_most: float,
    at_least: Sequence[str],
) -> list[Constraint]:
    """``margin_constraints`` of a table laid out as ``layout``, with these values."""
    constraints: list[Constraint] = []
    missing = np.isnan(values)
    known = np.where(missing, 0.0, values)
    for margin in layout.margins:
        group, n_groups, is_part = margin.group, margin.n_groups, margin.is_part
        total_of = margin.total_of
        usable = margin.formed.copy()
        usable[usable] = ~missing[total_of[usable]]
        complete = margin.complete & usable
        if assume_exact:
            exact = complete
        else:
            part_sum = np.bincount(group[is_part], weights=known[is_part], minlength=n_groups)
            unknown = np.bincount(group[is_part & missing], minlength=n_groups).astype(float)
            gap = np.full(n_groups, np.nan)
            gap[usable] = values[total_of[usable]] - part_sum[usable]
            usable &= ~(gap < -_EPS)  # parts exceed the total: no valid relation to lean on
            # Unknown parts (censored "<5") may close the gap: a reader who assumes the
            # table adds up learns from it, so the relation is exact when they can.
            exact = complete & (gap <= unknown * unknown_at_most + _EPS)
        exact &= margin.dimension not in at_least
        chosen = np.flatnonzero(usable)
        constraints.extend(
            map(
                Constraint,
                total_of[chosen].tolist(),
                [margin.parts[g] for g in chosen.tolist()],
                exact[chosen].tolist(),
            )
        )
    return constraints


def _distinct_per(group: np.ndarray, label: np.ndarray, n_groups: int) -> np.ndarray:
    """How many distinct labels each group holds."""
    if not len(group):
        return np.zeros(n_groups, dtype=np.int64)
    # One integer per (group, label) pair, marked in a flat mask: numpy's unique (by hashing
    # since numpy 2.3) costs seconds on a world-sized table, the mask milliseconds.
    width = int(label.max()) + 1
    pairs = _distinct(group.astype(np.int64) * width + label, n_groups * width)
    return np.bincount(pairs // width, minlength=n_groups)


def _distinct(numbers: np.ndarray, bound: int) -> np.ndarray:
    """The distinct values of non-negative integers below ``bound``, ascending."""
    seen = np.zeros(bound, dtype=bool)
    seen[numbers] = True
    return np.flatnonzero(seen)


# --------------------------------------------------------------------------- primary


def primary_flags(
    values: Sequence[float] | np.ndarray,
    config: DisclosureConfig,
    *,
    exempt: Sequence[bool] | np.ndarray | None = None,
    censored: Sequence[bool] | np.ndarray | None = None,
) -> np.ndarray:
    """One flag per cell after primary suppression (no secondary yet)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    ex = np.zeros(n, dtype=bool) if exempt is None else np.asarray(exempt, dtype=bool)
    cens = np.zeros(n, dtype=bool) if censored is None else np.asarray(censored, dtype=bool)
    lowest = 0 if not config.publish_zero else 1
    small = (v >= lowest) & (v < config.threshold)
    flags = np.full(n, OBSERVED, dtype=object)
    flags[np.isnan(v)] = NOT_AVAILABLE
    flags[small & ~ex] = SUPPRESSED_PRIMARY
    flags[cens & ~ex] = SUPPRESSED_PRIMARY
    return flags


# --------------------------------------------------------------------------- checker


def check_recovery(
    published: Sequence[float] | np.ndarray,
    flags: Sequence[str] | np.ndarray,
    constraints: Sequence[Constraint],
    config: DisclosureConfig,
    *,
    exact_intervals: bool = True,
) -> pd.DataFrame:
    """Try to recover every suppressed cell from the published cells and the constraints.

    ``published`` holds the values a reader sees (suppressed cells may hold anything: they are
    ignored). Returns one row per suppressed cell: ``cell, flag, low, high, exposed``; ``exposed``
    is true when the cell is pinned to one value or, for a primary cell, to an interval narrower
    than ``config.min_width``.

    With ``exact_intervals=False`` the verdict is the same but faster: a few LPs find feasible
    points of the whole component first, and only a cell whose values over those points are
    too close gets its own min/max LPs; ``low``/``high`` of the other cells are then an inner
    bound of the interval (the true interval is at least that wide).
    """
    flag_arr = np.asarray(flags, dtype=object)
    hidden = [int(c) for c in np.flatnonzero(np.isin(flag_arr, SUPPRESSED))]
    columns = ["cell", "flag", "low", "high", "exposed"]
    if not hidden:
        return pd.DataFrame(columns=columns)
    pub = np.asarray(published, dtype=float)
    is_hidden = np.isin(flag_arr, SUPPRESSED)
    touching = [c for c in constraints if any(is_hidden[m] for m in c.members)]
    if not exact_intervals:
        cells = np.asarray(hidden, dtype=np.int64)
        low, high, exposed = _fast_intervals(pub, flag_arr, cells, touching, config)
        return pd.DataFrame(
            {
                "cell": cells,
                "flag": flag_arr[cells],
                "low": low,
                "high": high,
                "exposed": exposed,
            },
            columns=columns,
        )
    low = np.full(len(flag_arr), np.inf)
    high = np.full(len(flag_arr), -np.inf)
    rows = _component_rows(hidden, pub, flag_arr, touching, config, low, high, exact=True)
    return pd.DataFrame(rows, columns=columns).sort_values("cell", ignore_index=True)


def _component_rows(
    hidden: list[int],
    pub: np.ndarray,
    flag_arr: np.ndarray,
    touching: list[Constraint],
    config: DisclosureConfig,
    low: np.ndarray,
    high: np.ndarray,
    *,
    exact: bool,
) -> list[dict[str, object]]:
    """One block of linked hidden cells at a time, two LPs per cell (``exact``) or per cell
    whose known values (``low``/``high``, by cell) are still too close: the plain method."""
    rows: list[dict[str, object]] = []
    by_cell: dict[int, list[int]] = {}
    for number, constraint in enumerate(touching):
        for member in constraint.members:
            by_cell.setdefault(member, []).append(number)
    for component in _components(hidden, touching):
        own = [
            touching[n] for n in sorted({n for cell in component for n in by_cell.get(cell, ())})
        ]
        needed = _min_width_of(component, flag_arr, config)
        system = None
        for i, cell in enumerate(component):
            lo, hi = low[cell], high[cell]
            if exact or hi - lo < needed[i]:
                system = system or _System.build(component, pub, flag_arr, own, config)
                try:
                    lo, hi = system.interval(i, cell)
                except DisclosureError:
                    # Contradictory source figures (uneven sources, censored cells asked for
                    # two values): no reader can rely on these relations as equalities.
                    own = _relaxed(own, component, pub, flag_arr, config)
                    system = _System.build(component, pub, flag_arr, own, config)
                    lo, hi = system.interval(i, cell)
            rows.append(
                {
                    "cell": cell,
                    "flag": flag_arr[cell],
                    "low": lo,
                    "high": hi,
                    "exposed": bool(hi - lo < needed[i]),
                }
            )
    return rows


def _fast_intervals(
    pub: np.ndarray,
    flag_arr: np.ndarray,
    cells: np.ndarray,
    touching: list[Constraint],
    config: DisclosureConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inner bounds of each hidden cell's interval and its verdict (the plain method's)."""
    relations = _relations(touching)
    verdicts = _Verdicts(
        pub, flag_arr, cells, relations, np.ones(relations.count, dtype=bool), config
    )
    verdicts.settle()
    exposed = np.array([verdicts.exposed(int(cell)) for cell in cells], dtype=bool)
    low, high = verdicts.low.copy(), verdicts.high.copy()
    high[high >= lp.CAP * (1 - _EPS)] = np.inf  # capped: unbounded in truth
    return low, high, exposed


# Verdicts of blocks already answered, by a digest of the block's LP: the same block comes back
# in every round and pass of the search and in the audit after it. Pure memoisation (a block's
# verdict depends on nothing else), bounded so that a long-running process does not grow.
_KNOWN: dict[tuple[bytes, bytes], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_KNOWN_MAX = 50_000
# Pairs of LPs that push a block's still-narrow cells together before each gets its own.
_SPREAD_TRIES = 3
# A vertex this close to an outer bound reaches it (LP solutions carry rounding).
_REACHED = 1e-9


class _Verdicts:
    """Which hidden cells a reader can pin down, asked cell by cell, solved block by block.

    The verdict is the plain method's: a cell is exposed exactly when its true interval is too
    narrow. Each block of linked hidden cells is its own small LP, loaded once: a first pair of
    vertices (smallest and largest sum) shows most of its cells wide enough, and every further
    vertex (a cell's own minimum or maximum) widens what is known of the others. A block whose
    relations contradict each other is relaxed as ``consistent_constraints`` relaxes a reader's
    view: its equalities become ``total >= parts``, and if even those fail, it has none.
    """

    def __init__(
        self,
        shown: np.ndarray,
        flags: np.ndarray,
        cells: np.ndarray,
        relations: lp.Relations,
        use: np.ndarray,
        config: DisclosureConfig,
        *,
        carried: _Verdicts | None = None,
        values: np.ndarray | None = None,
    ) -> None:
        self.flags = np.asarray(flags, dtype=object).copy()
        self.shown, self.cells, self.config = shown, cells, config
        self.relations, self.use = relations, use
        self.lower, self.upper = _bounds(cells, self.flags, config)
        self.system = lp.build(
            relations, use, cells, shown, self.flags == NOT_AVAILABLE, self.lower, self.upper
        )
        self.block = lp.blocks_of(cells, relations, use, len(shown))
        self.blocks = lp.Blocks(self.system, self.block)
        self.position = np.full(len(shown), -1, dtype=np.int64)
        self.position[cells] = np.arange(len(cells))
        self.low = np.full(len(cells), np.inf)
        self.high = np.full(len(cells), -np.inf)
        self.needed = _min_width_of(cells, self.flags, config)
        # Outer bounds of every interval (valid where a block has a solution as it stands):
        # a cell they show narrow is exposed without an LP, and a side a vertex already
        # reaches needs none either. Found for the blocks not answered from memory.
        self.outer_low, self.outer_high = self.lower.copy(), self.upper.copy()
        self._bounded: np.ndarray | None = None  # blocks whose outer bounds were found
        self._loose: set[int] = set()  # blocks solved relaxed: their outer bounds do not hold
        self._solver: dict[int, tuple[lp.BlockLP | None, np.ndarray]] = {}
        self.verdict = np.full(len(cells), -1, dtype=np.int8)
        self._left: dict[int, int] = {}
        self.twin = np.arange(self.blocks.count)  # each block's earlier twin, or itself
        # Solutions found, by block; those of the round before (``carried``) and the true
        # values of the cells hidden since, to start from (see ``_carried_points``).
        self.points: dict[int, list[np.ndarray]] = {}
        self.carried, self.values = carried, values
        if carried is not None:
            carried.carried = None  # one round back is all it needs: no chain of rounds kept

    def settle(self) -> np.ndarray:
        """Open every block; the positions whose verdict is not known to be "wide", in order.

        Opening a block finds the vertices that show most of its cells wide (or its verdicts
        in memory); what is left is asked cell by cell with ``exposed``. A block with the same
        LP as an earlier one of the round (a twin: same relations, figures and flags) is not
        solved again: its cells take the verdicts of the earlier block's.
        """
        first: dict[tuple[bytes, bytes], int] = {}
        fresh = np.zeros(self.blocks.count, dtype=bool)
        for block in range(self.blocks.count):
            key = self._key(block)
            if key in _KNOWN:
                continue
            if key in first:
                self.twin[block] = first[key]
            else:
                first[key] = block
                fresh[block] = True
        self._find_outer_bounds(fresh)
        for block in np.flatnonzero(self.twin == np.arange(self.blocks.count)).tolist():
            self._open(block)
        for block in np.flatnonzero(self.twin != np.arange(self.blocks.count)).tolist():
            self._sync(block)
        return np.flatnonzero(self.verdict != 0)

    def _sync(self, block: int) -> None:
        """A twin block's cells as its earlier twin's stand."""
        members, original = self.blocks.variables(block), self.blocks.variables(self.twin[block])
        self.verdict[members] = self.verdict[original]
        self.low[members], self.high[members] = self.low[original], self.high[original]

    def _find_outer_bounds(self, blocks: np.ndarray) -> None:
        """Outer bounds of the cells of ``blocks`` (a mask over blocks), all at once."""
        self._bounded = blocks
        low, high = self.blocks.outer_bounds(blocks)
        self.outer_low, self.outer_high = low, high

    def exposed(self, cell: int) -> bool:
        i = int(self.position[cell])
        block = int(self.block[i])
        twin = int(self.twin[block])
        if twin != block:
            local = int(np.searchsorted(self.blocks.variables(block), i))
            verdict = self._exposed(int(self.blocks.variables(twin)[local]), twin)
            self._sync(block)
            return verdict
        return self._exposed(i, block)

    def _exposed(self, i: int, block: int) -> bool:
        self._open(block)  # may answer the whole block from memory
        if self.verdict[i] < 0:
            self.verdict[i] = self._ask(i, block)
            self._settled(block, 1)
        return bool(self.verdict[i])

    def _settled(self, block: int, count: int) -> None:
        self._left[block] -= count
        if not self._left[block]:
            self._remember(block)

    def _ask(self, i: int, block: int) -> bool:
        solver, members = self._open(block)
        if solver is None or self._wide(i):
            return False
        bounded = block not in self._loose
        if bounded and self._narrow(i):
            return True
        cost = np.zeros(len(members))
        local = int(np.searchsorted(members, i))
        for sign in (1.0, -1.0):
            # A side that a vertex found so far already reaches is known without its LP.
            reached = (
                self.low[i] <= self.outer_low[i] + _REACHED
                if sign > 0
                else self.high[i] >= self.outer_high[i] - _REACHED
            )
            if bounded and reached:
                continue
            cost[local] = sign
            self._record(members, solver.minimise(cost))
            if self._wide(i):
                return False
            if bounded and sign > 0 and self.outer_high[i] - self.low[i] < self.needed[i]:
                return True  # its least value is known and the most it can be is too close
        return True

    def _narrow(self, i: int) -> bool:
        """The outer bounds alone show the cell's interval too narrow."""
        return bool(self.outer_high[i] - self.outer_low[i] < self.needed[i])

    def _wide(self, i: int) -> bool:
        return bool(self.high[i] - self.low[i] >= self.needed[i])

    def _record(self, members: np.ndarray, point: np.ndarray | None) -> None:
        if point is None:
            raise DisclosureError(
                f"the constraints around cell {int(self.cells[members[0]])} have no solution; "
                "the table is not consistent with its totals",
                cell=int(self.cells[members[0]]),
            )
        self.low[members] = np.minimum(self.low[members], point)
        self.high[members] = np.maximum(self.high[members], point)
        self.points.setdefault(int(self.block[members[0]]), []).append(point)

    def _key(self, block: int) -> tuple[bytes, bytes]:
        members = self.blocks.variables(block)
        return self.blocks.signature(block), self.needed[members].tobytes()

    def _remember(self, block: int) -> None:
        if len(_KNOWN) >= _KNOWN_MAX:
            _KNOWN.clear()
        members = self.blocks.variables(block)
        _KNOWN[self._key(block)] = (
            self.verdict[members].copy(),
            self.low[members].copy(),
            self.high[members].copy(),
        )

    def _open(self, block: int) -> tuple[lp.BlockLP | None, np.ndarray]:
        if block in self._solver:
            return self._solver[block]
        members = self.blocks.variables(block)
        self._left[block] = len(members)
        known = _KNOWN.get(self._key(block))
        if known is not None:
            # The same block was answered before (an earlier round, pass or table).
            self.verdict[members], self.low[members], self.high[members] = known
            self._left[block] = 0
            self._solver[block] = (None, members)
            return None, members
        if self._bounded is None:  # asked cell by cell without ``settle``: every block
            self._find_outer_bounds(np.ones(self.blocks.count, dtype=bool))
        solver: lp.BlockLP | None = self.blocks.lp(block)
        for seed in self._carried_points(block, members):
            self._record(members, seed)
        if not self._all_settled(block, members):
            ones = np.ones(len(members))
            point = solver.minimise(ones)
            if point is None:
                self._loose.add(block)
                self.points.pop(block, None)
                solver = self._relaxed(members)
                point = None if solver is None else solver.minimise(ones)
            if solver is not None:
                self._record(members, point)
                self._record(members, solver.minimise(-ones))
                self._spread(solver, members, block)
        self._solver[block] = (solver, members)
        # What the vertices and the outer bounds already tell, for every cell of the block.
        if solver is None:
            self.verdict[members] = 0
        else:
            wide = (self.high[members] - self.low[members]) >= self.needed[members]
            self.verdict[members[wide]] = 0
            if block not in self._loose:
                narrow = (self.outer_high[members] - self.outer_low[members]) < self.needed[members]
                self.verdict[members[narrow & ~wide]] = 1
        self._settled(block, int((self.verdict[members] >= 0).sum()))
        return solver, members

    def _all_settled(self, block: int, members: np.ndarray) -> bool:
        """Every cell of the block shown wide by the solutions so far or narrow by its bounds
        (only when a solution is known: the block then has one as it stands)."""
        if block not in self.points:
            return False
        wide = (self.high[members] - self.low[members]) >= self.needed[members]
        narrow = (self.outer_high[members] - self.outer_low[members]) < self.needed[members]
        return bool((wide | narrow).all())

    def _carried_points(self, block: int, members: np.ndarray) -> list[np.ndarray]:
        """Solutions of the round before, extended to this round's block, that solve it.

        Hiding more cells only adds unknowns: a solution of the blocks of the round before,
        with the true value for each cell hidden since, solves this block too wherever the true
        values satisfy its relations (they do, up to rounding, for the relations of the true
        values; a reader's may not). Each is checked against the block's own system, so a
        point kept is a solution like an LP's vertex, and the verdicts stay the exact ones.
        """
        before = self.carried
        if before is None or self.values is None:
            return []
        cells = self.cells[members]
        old = before.position[cells]
        was = old >= 0
        start = self.values[cells].astype(float)
        if np.isnan(start[~was]).any() or not was.any():
            return []
        old_block = before.block[old[was]]
        sources = []
        for b in np.unique(old_block).tolist():
            source = before.points.get(int(before.twin[b]))
            if not source or int(before.twin[b]) in before._loose:
                return []
            own = before.blocks.variables(b)
            local = np.searchsorted(own, old[was][old_block == b])
            sources.append((np.flatnonzero(was)[old_block == b], local, source))
        parts = self.blocks.parts(block)
        found = []
        for k in range(max(len(source) for _, _, source in sources)):
            point = start.copy()
            for into, local, source in sources:
                point[into] = source[k % len(source)][local]
            if lp.solves(parts, point):
                found.append(point)
        return found

    def _spread(self, solver: lp.BlockLP, members: np.ndarray, block: int) -> None:
        """Push the cells still too narrow up and down together, a few times.

        Most of them are merely not moved by the vertices found so far; a pair of LPs over all
        of them is cheaper than two for each. Only what is left gets its own LPs.
        """
        weights_of = np.random.default_rng(len(members))
        # Cells the outer bounds show narrow are settled: pushing them would move nothing.
        settled = (
            (self.outer_high[members] - self.outer_low[members]) < self.needed[members]
            if block not in self._loose
            else np.zeros(len(members), dtype=bool)
        )
        for _ in range(_SPREAD_TRIES):
            close = ((self.high[members] - self.low[members]) < self.needed[members]) & ~settled
            if close.sum() < 2:
                return
            weights = weights_of.uniform(0.5, 1.5, size=len(members)) * close
            before = int(close.sum())
            self._record(members, solver.minimise(weights))
            self._record(members, solver.minimise(-weights))
            still = (self.high[members] - self.low[members]) < self.needed[members]
            if int((still & ~settled).sum()) == before:
                return  # the rest are (nearly) pinned: their own LPs will tell

    def _relaxed(self, members: np.ndarray) -> lp.BlockLP | None:
        """The block with ``total >= parts`` for its relations; None when even that fails."""
        own = np.zeros(self.relations.count, dtype=bool)
        inside = np.zeros(len(self.shown), dtype=bool)
        inside[self.cells[members]] = True
        own[self.relations.number[inside[self.relations.cell]]] = True
        own &= self.use
        loose = lp.Relations(
            self.relations.number,
            self.relations.cell,
            self.relations.sign,
            np.zeros(self.relations.count, dtype=bool),
            self.relations.count,
        )
        system = lp.build(
            loose,
            own,
            self.cells[members],
            self.shown,
            self.flags == NOT_AVAILABLE,
            self.lower[members],
            self.upper[members],
        )
        solver = lp.Blocks(system, np.zeros(len(members), dtype=np.int64)).lp(0)
        return solver if solver.minimise(np.zeros(len(members))) is not None else None


def _relations(constraints: Sequence[Constraint]) -> lp.Relations:
    """``lp.Relations.of`` the constraints, read attribute by attribute (a world-sized table
    has a million members: one pass of C-level iteration each instead of a tuple per member)."""
    n = len(constraints)
    totals = np.fromiter((c.total for c in constraints), dtype=np.int64, count=n)
    n_parts = np.fromiter((len(c.parts) for c in constraints), dtype=np.int64, count=n)
    parts = np.fromiter(
        itertools.chain.from_iterable(c.parts for c in constraints),
        dtype=np.int64,
        count=int(n_parts.sum()),
    )
    exact = np.fromiter((c.exact for c in constraints), dtype=bool, count=n)
    sizes = n_parts + 1
    first = np.cumsum(sizes) - sizes  # the total leads each relation's members
    cells = np.empty(int(sizes.sum()), dtype=np.int64)
    is_total = np.zeros(len(cells), dtype=bool)
    is_total[first] = True
    cells[first] = totals
    cells[~is_total] = parts
    number = np.repeat(np.arange(n, dtype=np.int64), sizes)
    sign = np.where(is_total, 1.0, -1.0)
    return lp.Relations(number, cells, sign, exact, n)


def _bounds(
    cells: np.ndarray, flags: np.ndarray, config: DisclosureConfig
) -> tuple[np.ndarray, np.ndarray]:
    """What a reader knows of each hidden cell: ``<5`` is ``[0 or 1, 4]``, ``x`` is ``[0, inf)``."""
    primary = flags[cells] == SUPPRESSED_PRIMARY
    lower = np.where(primary, config.primary_lower_bound, 0.0)
    upper = np.where(primary, config.threshold - 1.0, np.inf)
    return lower, upper


def _relaxed(
    own: list[Constraint], component: list[int], pub, flags, config: DisclosureConfig
) -> list[Constraint]:
    """Equalities become ``total >= parts``; if even those contradict, the relations go."""
    loose = [Constraint(c.total, c.parts, exact=False) for c in own]
    system = _System.build(component, pub, flags, loose, config)
    if system._solve(np.zeros(len(component)), system.bounds).status == 0:
        return loose
    return []


def _components(hidden: Sequence[int], constraints: Sequence[Constraint]) -> list[list[int]]:
    """Suppressed cells linked through shared constraints (solved as one small LP each)."""
    parent = {int(c): int(c) for c in hidden}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for constraint in constraints:
        members = [m for m in constraint.members if m in parent]
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    groups: dict[int, list[int]] = {}
    for cell in parent:
        groups.setdefault(find(cell), []).append(cell)
    return [sorted(cells) for cells in groups.values()]


class _Rows:
    """Sparse rows of a linear system, collected one constraint at a time."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.b: list[float] = []

    def add(self, entries: dict[int, float], rhs: float) -> None:
        for col, val in entries.items():
            self.rows.append(len(self.b))
            self.cols.append(col)
            self.vals.append(val)
        self.b.append(rhs)

    def matrix(self, n: int) -> sparse.csr_matrix | None:
        if not self.b:
            return None
        return sparse.csr_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.b), n))

    def rhs(self) -> np.ndarray | None:
        return np.array(self.b) if self.b else None


@dataclass
class _System:
    """The reader's linear system over some hidden cells: ``A_eq x = b_eq``, ``A_ub x <= b_ub``."""

    a_eq: sparse.csr_matrix | None
    b_eq: np.ndarray | None
    a_ub: sparse.csr_matrix | None
    b_ub: np.ndarray | None
    bounds: list[tuple[float, float | None]]

    @classmethod
    def build(cls, cells, pub, flags, constraints, config: DisclosureConfig) -> _System:
        index = {cell: i for i, cell in enumerate(cells)}
        eq, ub = _Rows(), _Rows()
        for constraint in constraints:
            entries: dict[int, float] = {}
            rhs = 0.0
            for member, sign in [(constraint.total, 1.0)] + [(p, -1.0) for p in constraint.parts]:
                if member in index:
                    entries[index[member]] = entries.get(index[member], 0.0) + sign
                elif flags[member] == NOT_AVAILABLE:
                    continue  # an unknown part turns the equality into total >= known parts
                else:
                    rhs -= sign * pub[member]
            if constraint.exact and not _touches_not_available(constraint, flags):
                eq.add(entries, rhs)
            else:
                # total - sum(parts) >= 0  ->  -(row) <= -rhs
                ub.add({k: -v for k, v in entries.items()}, -rhs)
        bounds = [
            (config.primary_lower_bound, config.threshold - 1.0)
            if flags[cell] == SUPPRESSED_PRIMARY
            else (0.0, None)
            for cell in cells
        ]
        n = len(cells)
        return cls(eq.matrix(n), eq.rhs(), ub.matrix(n), ub.rhs(), bounds)

    def _solve(self, objective: np.ndarray, bounds) -> object:
        return linprog(
            objective,
            A_ub=self.a_ub,
            b_ub=self.b_ub,
            A_eq=self.a_eq,
            b_eq=self.b_eq,
            bounds=bounds,
            method="highs",
        )

    def interval(self, i: int, cell: int) -> tuple[float, float]:
        objective = np.zeros(len(self.bounds))
        objective[i] = 1.0
        return self._optimum(objective, cell), -self._optimum(-objective, cell)

    def _optimum(self, objective: np.ndarray, cell: int) -> float:
        result = self._solve(objective, self.bounds)
        if result.status == 3:  # unbounded: the reader learns nothing on that side
            return -np.inf
        if result.status != 0:
            raise DisclosureError(
                f"the constraints around cell {cell} have no solution ({result.message}); "
                "the table is not consistent with its totals",
                cell=cell,
            )
        return float(result.fun)


def _touches_not_available(constraint: Constraint, flags: np.ndarray) -> bool:
    return any(flags[m] == NOT_AVAILABLE for m in constraint.members)


def _min_width_of(component, flags: np.ndarray, config: DisclosureConfig) -> np.ndarray:
    """The narrowest interval each hidden cell may have: a point never, ``<5`` ``min_width``."""
    primary = np.asarray(flags, dtype=object)[np.asarray(component, dtype=np.int64)]
    return np.where(primary == SUPPRESSED_PRIMARY, config.min_width - _EPS, _EPS).astype(float)


# --------------------------------------------------------------------------- secondary


def secondary_suppression(
    values: Sequence[float] | np.ndarray,
    flags: Sequence[str] | np.ndarray,
    constraints: Sequence[Constraint],
    config: DisclosureConfig,
    *,
    exempt: Sequence[bool] | np.ndarray | None = None,
    max_rounds: int = 10_000,
) -> np.ndarray:
    """Add secondary suppressions until the recovery checker exposes no suppressed cell."""
    v = np.asarray(values, dtype=float)
    out = np.asarray(flags, dtype=object).copy()
    ex = np.zeros(len(v), dtype=bool) if exempt is None else np.asarray(exempt, dtype=bool)
    margins = {c.total for c in constraints}
    relations = _relations(constraints)
    by_cell = _ByCell(constraints, relations, len(v))

    # Exempt aggregates last; zeros only when nothing else is left; then the smallest value,
    # interior cells before margins (the rank of every cell, by those keys in that order).
    is_margin = np.zeros(len(v), dtype=bool)
    is_margin[list(margins)] = True
    rank = np.empty(len(v), dtype=np.int64)
    rank[np.lexsort((np.arange(len(v)), is_margin, v, v == 0, ex))] = np.arange(len(v))
    rank_of = rank.tolist().__getitem__
    exempt_cells = ex.tolist()

    def best(cells: Sequence[int], *, allow_exempt: bool = True) -> int | None:
        """The published cell of ``cells`` to hide first, if any."""
        pool = [m for m in cells if out[m] == OBSERVED and (allow_exempt or not exempt_cells[m])]
        return min(pool, key=rank_of) if pool else None

    # Blocks of cells linked by relations are protected independently (the search never
    # reaches across them), so a block is searched only while it holds something to protect,
    # and only until the checker exposes nothing in it: each round solves the blocks still
    # open, all at once.
    block = lp.blocks_of(np.arange(len(v)), relations, np.ones(relations.count, dtype=bool), len(v))
    first = np.flatnonzero(np.diff(relations.number, prepend=-1) != 0)
    block_of_relation = block[relations.cell[first]]  # that of its total
    active = np.isin(block_of_relation, block[np.isin(out, SUPPRESSED)])
    verdicts = None  # the round before's: its solutions start the next round's blocks
    for _ in range(max_rounds):
        _pair_up(out, by_cell, active, best)
        exposed, widened, verdicts = _audit_and_widen(
            v, out, relations, active, by_cell, best, config, verdicts
        )
        if not exposed:
            return out
        if not widened:
            raise DisclosureError(
                f"cannot protect cell {exposed[0]}: every cell linked to it is already hidden",
                cell=exposed[0],
            )
        active &= np.isin(block_of_relation, block[exposed])
    raise DisclosureError("secondary suppression did not converge")


def _audit_and_widen(
    values: np.ndarray,
    out: np.ndarray,
    relations: lp.Relations,
    active: np.ndarray,
    by_cell: _ByCell,
    best,
    config: DisclosureConfig,
    carried: _Verdicts | None = None,
) -> tuple[list[int], bool, _Verdicts | None]:
    """One round: the checker's exposed cells, each widened as ``_widen`` does.

    A cell next to one widened earlier in the round is skipped whatever its verdict, so its
    verdict is never asked: the cells are asked in order, against the flags the round began
    with, and widened as they come. Returns the exposed cells found and whether any was
    widened (when none was, every cell was asked). ``active``: the relations of the round.
    """
    is_hidden = np.isin(out, SUPPRESSED)
    member_hidden = is_hidden[relations.cell]
    touching = active & (
        np.bincount(relations.number[member_hidden], minlength=relations.count) > 0
    )
    if not touching.any():
        return [], False, None
    cells = _distinct(relations.cell[touching[relations.number] & member_hidden], len(out))
    shown = np.where(is_hidden, np.nan, values)
    verdicts = _Verdicts(
        shown, out, cells, relations, touching, config, carried=carried, values=values
    )
    exposed: list[int] = []
    done: set[int] = set()
    widened = False
    # Cells the opened blocks already show wide are never exposed: only the others are asked.
    for cell in cells[verdicts.settle()].tolist():
        if cell in done or not verdicts.exposed(cell):
            continue
        exposed.append(cell)
        if _widen_one(cell, out, by_cell, best):
            done.update(m for n in by_cell.numbers(cell).tolist() for m in by_cell.members[n])
            widened = True
    return exposed, widened, verdicts


class _ByCell:
    """The constraints each cell is a member of, in the constraints' order (once per time)."""

    def __init__(
        self, constraints: Sequence[Constraint], relations: lp.Relations, n_cells: int
    ) -> None:
        self.constraints, self.relations = constraints, relations
        self.members = [c.members for c in constraints]
        order = np.argsort(relations.cell, kind="stable")
        self._numbers = relations.number[order]
        self._starts = np.searchsorted(relations.cell[order], np.arange(n_cells + 1))

    def numbers(self, cell: int) -> np.ndarray:
        """The relations the cell is a member of, by number (repeated as often as it is)."""
        return self._numbers[self._starts[cell] : self._starts[cell + 1]]

    def get(self, cell: int, default=()) -> list[Constraint]:
        return [self.constraints[n] for n in self.numbers(cell).tolist()] or list(default)


def _pair_up(out: np.ndarray, by_cell: _ByCell, active: np.ndarray, best) -> None:
    """Until no constraint group holds exactly one suppressed cell, hide one more in it.

    Passes over the ``active`` relations in order, as a loop over them all would, but visiting
    only those holding one hidden cell: counts are kept per relation as cells get hidden.
    """
    relations = by_cell.relations
    hidden = np.bincount(
        relations.number[np.isin(out[relations.cell], SUPPRESSED)], minlength=relations.count
    )
    changed = True
    while changed:
        changed = False
        queue = np.flatnonzero(active & (hidden == 1)).tolist()
        heapq.heapify(queue)
        while queue:
            number = heapq.heappop(queue)
            if hidden[number] != 1:
                continue
            pick = best(by_cell.members[number], allow_exempt=False)
            if pick is None:
                continue
            out[pick] = SUPPRESSED_SECONDARY
            changed = True
            touched = by_cell.numbers(pick)
            np.add.at(hidden, touched, 1)
            # Groups further on that now hold one hidden cell are met later in this pass.
            for later in np.unique(touched[touched > number]).tolist():
                if active[later] and hidden[later] == 1:
                    heapq.heappush(queue, later)


def _widen_one(cell: int, out: np.ndarray, by_cell: _ByCell, best) -> bool:
    # Nearest published cells first: its own groups, then groups one step further, and so on
    # through the whole block of linked constraints.
    seen_cells = {cell}
    seen_groups: set[int] = set()
    frontier = [cell]
    members = by_cell.members
    while frontier:
        groups = {n for m in frontier for n in by_cell.numbers(m).tolist()} - seen_groups
        seen_groups |= groups
        layer = [m for n in sorted(groups) for m in members[n]]
        pick = best(layer)
        if pick is not None:
            out[pick] = SUPPRESSED_SECONDARY
            return True
        frontier = [m for m in layer if m not in seen_cells]
        seen_cells.update(frontier)
    # Last resort: a small margin shown as "<threshold" can itself give its parts away
    # (1+1+1+1 = "<5" when zeros are published); show it with the secondary symbol.
    for constraint in by_cell.get(cell, []):
        if out[constraint.total] == SUPPRESSED_PRIMARY:
            out[constraint.total] = SUPPRESSED_SECONDARY
            return True
    return False


# --------------------------------------------------------------------------- whole tables


def protect(
    table: pd.DataFrame,
    dimensions: Sequence[str],
    config: DisclosureConfig | None = None,
    *,
    keys: Sequence[str] = (),
    value: str = "value",
    exempt: pd.Series | np.ndarray | None = None,
    censored: pd.Series | np.ndarray | None = None,
    withheld: pd.Series | np.ndarray | None = None,
    at_least: Sequence[str] = (),
) -> pd.DataFrame:
    """Primary + secondary suppression of one table; adds ``flag``, ``published``, ``display``.

    The true ``value`` column is kept (the caller drops it before publishing): ``published`` is
    the value a reader may see (null when suppressed or not available), ``display`` its text.
    ``withheld`` cells (e.g. aggregates of too few countries) are hidden as secondary from the
    start, so the search protects them along with the small counts instead of after them.
    """
    config = config or DisclosureConfig()
    frame = table.reset_index(drop=True)
    values = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=float)
    ex = np.zeros(len(frame), dtype=bool) if exempt is None else np.asarray(exempt, dtype=bool)
    flags = primary_flags(values, config, exempt=ex, censored=censored)
    if withheld is not None:
        flags[np.asarray(withheld, dtype=bool) & (flags == OBSERVED)] = SUPPRESSED_SECONDARY
    if np.isin(flags, SUPPRESSED).any():
        # One pass over the whole table: sub-tables (``keys``) share no constraint, so each
        # round of the checker solves them together and widens around the exposed cells.
        # The groups of the table are found once for the true values and every reader's view.
        layout = _MarginLayout.of(frame, dimensions, keys)
        constraints = _constraints_of(
            layout,
            values,
            assume_exact=False,
            unknown_at_most=config.threshold - 1.0,
            at_least=at_least,
        )
        constraints = consistent_constraints(values, flags, constraints, config)
        try:
            flags = secondary_suppression(values, flags, constraints, config, exempt=ex)
            flags = _protect_against_reader(layout, values, flags, config, ex, at_least)
        except DisclosureError as problem:
            if problem.cell is None:
                raise
            # Name the row the way the table does, not by its position.
            where = frame.iloc[problem.cell][[*keys, *dimensions, value]].to_dict()
            raise DisclosureError(f"{problem} (row {where})", cell=problem.cell) from None
    return with_flags(frame, flags, config, value=value)


def reader_constraints(
    frame: pd.DataFrame,
    shown: np.ndarray,
    flags: np.ndarray,
    dimensions: Sequence[str],
    config: DisclosureConfig,
    *,
    keys: Sequence[str] = (),
    at_least: Sequence[str] = (),
) -> list[Constraint]:
    """The relations a reader of the published table takes as given.

    Every complete ``total = sum of parts`` is assumed exact (hidden totals are still totals),
    except along ``at_least`` dimensions; blocks the published figures contradict are relaxed.
    """
    layout = _MarginLayout.of(frame.reset_index(drop=True), dimensions, keys)
    return _reader_constraints(layout, shown, flags, config, at_least)


def _reader_constraints(
    layout: _MarginLayout,
    shown: np.ndarray,
    flags: np.ndarray,
    config: DisclosureConfig,
    at_least: Sequence[str],
) -> list[Constraint]:
    flags = np.asarray(flags, dtype=object)
    known = np.where(flags != NOT_AVAILABLE, np.nan_to_num(shown, nan=0.0), np.nan)
    constraints = _constraints_of(
        layout,
        known,
        assume_exact=True,
        unknown_at_most=config.threshold - 1.0,
        at_least=at_least,
    )
    return consistent_constraints(
        shown, flags, constraints, config, hidden=np.isin(flags, SUPPRESSED)
    )


def _protect_against_reader(layout, values, flags, config, exempt, at_least):
    """Hide more while a reader who takes the published table as additive can pin a cell.

    Protection reasons with the true values (a relation is exact only where they add up); a
    reader sees only the published figures and assumes every complete relation exact. Where
    the two differ (sums over censored cells, uneven sources) the reader's view decides too.
    """
    for _ in range(10):
        shown = np.where(flags == OBSERVED, values, np.nan)
        constraints = _reader_constraints(layout, shown, flags, config, at_least)
        # Hiding more changes what the reader sees, hence the relations they can rely on.
        more = secondary_suppression(values, flags, constraints, config, exempt=exempt)
        if (more == flags).all():
            return flags
        flags = more
    raise DisclosureError("protection against the reader's view did not converge")


def consistent_constraints(
    values: np.ndarray,
    flags: np.ndarray,
    constraints: Sequence[Constraint],
    config: DisclosureConfig,
    *,
    hidden: np.ndarray | None = None,
) -> list[Constraint]:
    """Relax relations that the source data, with its censored cells, cannot all satisfy.

    Each relation is checked on its own when it is made; a censored cell in two relations can
    still be asked for two different values (real submissions are not always consistent across
    dimensions). Such a block keeps only ``total >= known parts``; a reader of it cannot lean on
    the equalities either, since they contradict each other. ``hidden`` (a reader's view of a
    published table) makes every hidden cell an unknown within what its flag tells.
    """
    unknown = (
        np.isnan(values) & (flags == SUPPRESSED_PRIMARY)
        if hidden is None
        else np.asarray(hidden, dtype=bool)
    )
    if not unknown.any():
        return list(constraints)
    shown = np.where(unknown, np.nan, values)
    check_flags = np.where(unknown, flags, OBSERVED).astype(object)
    check_flags[np.isnan(values) & ~unknown] = NOT_AVAILABLE
    cells = np.flatnonzero(unknown)
    out = list(constraints)
    relations = _relations(out)
    linked = np.bincount(
        relations.number[unknown[relations.cell]], minlength=relations.count
    ).astype(bool)
    missing = check_flags == NOT_AVAILABLE
    lower, upper = _bounds(cells, check_flags, config)
    if hidden is not None:
        # A reader's view is checked block by block only when the whole of it has no solution.
        whole = lp.build(relations, linked, cells, shown, missing, lower, upper)
        if whole.solve(np.zeros(len(cells))).status == 0:
            return list(constraints)
    block_of_cell = np.full(len(values), -1, dtype=np.int64)
    block_of_cell[cells] = lp.blocks_of(cells, relations, linked, len(values))
    block_of_relation = np.full(relations.count, -1, dtype=np.int64)
    members = unknown[relations.cell] & linked[relations.number]
    block_of_relation[relations.number[members]] = block_of_cell[relations.cell[members]]
    n_blocks = int(block_of_cell.max()) + 1
    if hidden is None:
        # One relation alone was checked when it was made (not a reader's).
        in_block = np.bincount(block_of_relation[linked], minlength=n_blocks)
        exact_in = np.bincount(block_of_relation[linked & relations.exact], minlength=n_blocks)
        checked = (in_block >= 2) & (exact_in > 0)
    else:
        checked = np.ones(n_blocks, dtype=bool)
    use = linked & checked[np.maximum(block_of_relation, 0)]
    if not use.any():
        return out
    block_of_var = block_of_cell[cells]
    bad = _blocks_without_solution(
        lp.build(relations, use, cells, shown, missing, lower, upper),
        block_of_var,
        np.flatnonzero(checked),
    )
    if not len(bad):
        return out
    relax = use & np.isin(block_of_relation, bad)
    for n in np.flatnonzero(relax):
        out[n] = Constraint(out[n].total, out[n].parts, exact=False)
    loose = lp.Relations(
        relations.number,
        relations.cell,
        relations.sign,
        relations.exact & ~relax,
        relations.count,
    )
    still = _blocks_without_solution(
        lp.build(loose, relax, cells, shown, missing, lower, upper), block_of_var, bad
    )
    for n in np.flatnonzero(relax & np.isin(block_of_relation, still)):
        out[n] = Constraint(out[n].total, (), exact=False)  # no relation left
    return [c for c in out if c.parts]


def _blocks_without_solution(
    system: lp.System, block_of_var: np.ndarray, asked: np.ndarray
) -> np.ndarray:
    """Those of the ``asked`` blocks whose own relations have no solution (an LP each)."""
    blocks = lp.Blocks(system, block_of_var)
    return np.array([b for b in asked.tolist() if not _has_solution(blocks, b)], dtype=np.int64)


# Whether a block's system has a solution, by the digest of its LP: the reader's-view passes
# and the audit ask it of the same blocks again. Pure memoisation, bounded like ``_KNOWN``.
_SOLVABLE: dict[bytes, bool] = {}


def _has_solution(blocks: lp.Blocks, block: int) -> bool:
    key = blocks.signature(block)
    known = _SOLVABLE.get(key)
    if known is None:
        if len(_SOLVABLE) >= _KNOWN_MAX:
            _SOLVABLE.clear()
        known = blocks.lp(block).minimise(np.zeros(len(blocks.variables(block)))) is not None
        _SOLVABLE[key] = known
    return known


def with_flags(
    frame: pd.DataFrame, flags: np.ndarray, config: DisclosureConfig, *, value: str = "value"
) -> pd.DataFrame:
    """Attach ``flag``, ``published`` (nullable int) and ``display`` to a frame."""
    values = pd.to_numeric(frame[value], errors="coerce")
    published = values.where(flags == OBSERVED).round().astype("Int64")
    display = published.astype("string").fillna("")
    display = display.mask(flags == SUPPRESSED_PRIMARY, config.primary_symbol)
    display = display.mask(flags == SUPPRESSED_SECONDARY, config.secondary_symbol)
    return frame.assign(
        **{FLAG: pd.array(flags, dtype="string"), PUBLISHED: published, DISPLAY: display}
    )


def audit(
    protected: pd.DataFrame,
    dimensions: Sequence[str],
    config: DisclosureConfig | None = None,
    *,
    keys: Sequence[str] = (),
    value: str = "value",
    assume_exact: bool = False,
    exact_intervals: bool = False,
    at_least: Sequence[str] = (),
) -> pd.DataFrame:
    """Run the recovery checker on a protected table (``flag`` + ``published`` columns).

    Constraints are derived from ``value`` when it is present (true values), else from
    ``published`` with ``assume_exact`` (a reader's view of a published table).
    """
    config = config or DisclosureConfig()
    frame = protected.reset_index(drop=True)
    source = value if value in frame.columns else PUBLISHED
    if source == PUBLISHED:
        assume_exact = True
    published = pd.to_numeric(frame[PUBLISHED], errors="coerce").astype(float).to_numpy()
    flags = frame[FLAG].to_numpy(dtype=object)
    if assume_exact:
        constraints = reader_constraints(
            frame, published, flags, dimensions, config, keys=keys, at_least=at_least
        )
        return check_recovery(
            published, flags, constraints, config, exact_intervals=exact_intervals
        )
    known = pd.to_numeric(frame[source], errors="coerce").astype(float)
    constraints = margin_constraints(
        frame.assign(_v=known),
        dimensions,
        keys=keys,
        value="_v",
        assume_exact=assume_exact,
        unknown_at_most=config.threshold - 1.0,
        at_least=at_least,
    )
    constraints = consistent_constraints(known.to_numpy(), flags, constraints, config)
    return check_recovery(published, flags, constraints, config, exact_intervals=exact_intervals)
