"""The linear systems of the disclosure checker, built and solved many blocks at a time.

Pure numerics for ``tipstats.disclosure``: no flags, no frames. A published table falls into
independent blocks (a country-year, a region-year...) that share no relation. One linear program
over all of them at once answers a question for every block together, because an objective that
is a sum over blocks is optimised by optimising each block alone. The checker's questions are
asked that way: "is this block's system feasible" (one elastic LP for all blocks) and "what are
the smallest and largest values of this hidden cell" (one LP per direction for one cell of every
block). Building the sparse matrices from flat arrays instead of a loop per relation keeps the
set-up of a world-sized table in milliseconds.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

# Caps the unbounded cells of a batched LP (one unbounded block would leave every other block
# without an answer). Counts are far below it, so no optimum of a capped system differs from the
# uncapped one except where the uncapped one is unbounded, and then it is reported at the cap.
CAP = 1e7


@dataclass(frozen=True)
class Relations:
    """Relations ``total (=|>=) sum(parts)`` as flat arrays, one entry per member."""

    number: np.ndarray  # relation of each member
    cell: np.ndarray  # the member's cell
    sign: np.ndarray  # +1 for the total, -1 for a part
    exact: np.ndarray  # per relation
    count: int

    @classmethod
    def of(cls, relations: Sequence[tuple[int, Sequence[int], bool]]) -> Relations:
        """From ``(total, parts, exact)`` triples."""
        sizes = np.fromiter((1 + len(p) for _, p, _ in relations), dtype=np.int64)
        cells = np.fromiter(
            (m for total, parts, _ in relations for m in (total, *parts)),
            dtype=np.int64,
            count=int(sizes.sum()),
        )
        number = np.repeat(np.arange(len(relations), dtype=np.int64), sizes)
        sign = -np.ones(len(cells))
        sign[np.cumsum(sizes) - sizes] = 1.0
        exact = np.fromiter((bool(e) for _, _, e in relations), dtype=bool, count=len(relations))
        return cls(number, cells, sign, exact, len(relations))


def blocks_of(cells: np.ndarray, relations: Relations, use: np.ndarray, n_cells: int) -> np.ndarray:
    """Block number of each of ``cells``: cells linked through the used relations share one.

    Numbered by the order of each block's smallest cell.
    """
    where = np.full(n_cells, -1, dtype=np.int64)
    where[cells] = np.arange(len(cells))
    member = use[relations.number] & (where[relations.cell] >= 0)
    number, position = relations.number[member], where[relations.cell[member]]
    # Link each member to the first member of its relation: a star per relation.
    first = np.full(relations.count, -1, dtype=np.int64)
    order = np.arange(len(number))[::-1]
    first[number[order]] = position[order]
    graph = sparse.coo_matrix(
        (np.ones(len(number)), (position, first[number])), shape=(len(cells), len(cells))
    )
    _, labels = connected_components(graph, directed=False)
    # Renumber by the first cell of each block (cells come sorted): a stable, readable order.
    _, first_seen = np.unique(labels, return_index=True)
    rank = np.empty(len(first_seen), dtype=np.int64)
    rank[np.argsort(first_seen)] = np.arange(len(first_seen))
    return rank[labels]


@dataclass
class System:
    """``A_eq x = b_eq``, ``A_ub x <= b_ub``, ``lower <= x <= upper`` over some hidden cells."""

    a_eq: sparse.csr_matrix
    b_eq: np.ndarray
    a_ub: sparse.csr_matrix
    b_ub: np.ndarray
    lower: np.ndarray
    upper: np.ndarray  # inf where unbounded
    eq_relation: np.ndarray  # relation number of each equality row
    ub_relation: np.ndarray

    @property
    def size(self) -> int:
        return len(self.lower)

    def solve(self, objective: np.ndarray, *, capped: bool = False):
        upper = np.minimum(self.upper, CAP) if capped else self.upper
        return linprog(
            objective,
            A_ub=self.a_ub if self.a_ub.shape[0] else None,
            b_ub=self.b_ub if self.a_ub.shape[0] else None,
            A_eq=self.a_eq if self.a_eq.shape[0] else None,
            b_eq=self.b_eq if self.a_eq.shape[0] else None,
            bounds=np.column_stack([self.lower, upper]),
            method="highs",
        )


def build(
    relations: Relations,
    use: np.ndarray,
    cells: np.ndarray,
    shown: np.ndarray,
    not_available: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> System:
    """The system of the used relations over ``cells`` (the unknowns).

    A member that is not an unknown is a constant: its ``shown`` value, or nothing when it is
    not available, which turns an equality into ``total >= known parts``. ``lower``/``upper``
    are the bounds of each unknown (``inf``: none).
    """
    n_cells = len(shown)
    where = np.full(n_cells, -1, dtype=np.int64)
    where[cells] = np.arange(len(cells))
    member = use[relations.number]
    number = relations.number[member]
    cell = relations.cell[member]
    sign = relations.sign[member]
    var = where[cell]
    unknown = var >= 0
    missing = ~unknown & not_available[cell]
    constant = ~unknown & ~missing
    rhs = -np.bincount(
        number[constant], weights=sign[constant] * shown[cell[constant]], minlength=relations.count
    )
    touches_missing = np.bincount(number[missing], minlength=relations.count) > 0
    equality = use & relations.exact & ~touches_missing
    inequality = use & ~equality
    eq_relation = np.flatnonzero(equality)
    ub_relation = np.flatnonzero(inequality)
    eq_row = np.full(relations.count, -1, dtype=np.int64)
    eq_row[eq_relation] = np.arange(len(eq_relation))
    ub_row = np.full(relations.count, -1, dtype=np.int64)
    ub_row[ub_relation] = np.arange(len(ub_relation))
    n = len(cells)
    in_eq = unknown & equality[number]
    in_ub = unknown & inequality[number]
    a_eq = sparse.csr_matrix(
        (sign[in_eq], (eq_row[number[in_eq]], var[in_eq])), shape=(len(eq_relation), n)
    )
    # total - sum(parts) >= 0  ->  -(row) <= -rhs
    a_ub = sparse.csr_matrix(
        (-sign[in_ub], (ub_row[number[in_ub]], var[in_ub])), shape=(len(ub_relation), n)
    )
    return System(
        a_eq, rhs[eq_relation], a_ub, -rhs[ub_relation], lower, upper, eq_relation, ub_relation
    )


try:  # HiGHS itself, as scipy ships it: one model per block, re-solved after a cost change
    from scipy.optimize._highspy import _core as _highs
except ImportError:  # pragma: no cover - a scipy without it: linprog per LP, slower
    _highs = None


@dataclass(frozen=True)
class Columnwise:
    """A sparse matrix as HiGHS takes it: column starts, row indices, values."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    def tocsr(self) -> sparse.csr_matrix:
        return sparse.csc_matrix((self.data, self.indices, self.indptr), shape=self.shape).tocsr()


# One HiGHS instance per thread for all blocks (creating one costs more than a small LP): it
# keeps the block solved last, so the LPs of one block in a row start from its last basis.
_LOCAL = threading.local()


class BlockLP:
    """One block's system, loaded once and re-solved for each objective (warm start).

    Unbounded cells are capped (``CAP``) so that every objective has an optimum.
    """

    def __init__(
        self,
        a: Columnwise,
        row_lower: np.ndarray,
        row_upper: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
    ) -> None:
        self.size = a.shape[1]
        self.a, self.row_lower, self.row_upper = a, row_lower, row_upper
        self.lower, self.upper = lower, np.minimum(upper, CAP)
        self._lp = None
        if _highs is not None:
            lp = _highs.HighsLp()
            lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
            lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = a.shape[1], a.shape[0]
            lp.a_matrix_.format_ = _highs.MatrixFormat.kColwise
            lp.a_matrix_.start_ = a.indptr
            lp.a_matrix_.index_ = a.indices
            lp.a_matrix_.value_ = a.data
            lp.col_cost_ = np.zeros(a.shape[1])
            lp.col_lower_, lp.col_upper_ = self.lower, self.upper
            lp.row_lower_, lp.row_upper_ = row_lower, row_upper
            self._lp = lp
            self._columns = np.arange(a.shape[1], dtype=np.int32)

    def _loaded(self):
        """The solver, holding this block (loading it if another block was solved last)."""
        if getattr(_LOCAL, "owner", None) is not self:
            if getattr(_LOCAL, "model", None) is None:
                model = _highs._Highs()
                model.setOptionValue("output_flag", False)
                # Tiny LPs re-solved after a cost change: the last basis stays feasible, so
                # primal simplex from it beats presolve + dual simplex from scratch.
                model.setOptionValue("presolve", "off")
                model.setOptionValue("simplex_strategy", 4)
                _LOCAL.model = model
            _LOCAL.owner = None
            if _LOCAL.model.passModel(self._lp) == _highs.HighsStatus.kError:
                return None
            _LOCAL.owner = self
        return _LOCAL.model

    def minimise(self, cost: np.ndarray) -> np.ndarray | None:
        """A minimising vertex, or None when the block has no solution."""
        model = self._loaded() if self._lp is not None else None
        if model is not None:
            model.changeColsCost(self.size, self._columns, cost)
            model.run()
            status = model.getModelStatus()
            if status == _highs.HighsModelStatus.kOptimal:
                return np.array(model.getSolution().col_value)
            if status in (
                _highs.HighsModelStatus.kInfeasible,
                _highs.HighsModelStatus.kUnboundedOrInfeasible,  # every cell is boxed
            ):
                return None
        return self._linprog(cost)  # HiGHS gave no clear answer: ask it through scipy

    def _linprog(self, cost: np.ndarray) -> np.ndarray | None:
        equal = self.row_lower == self.row_upper
        a = self.a.tocsr()
        result = linprog(
            cost,
            A_ub=a[~equal] if (~equal).any() else None,
            b_ub=self.row_upper[~equal] if (~equal).any() else None,
            A_eq=a[equal] if equal.any() else None,
            b_eq=self.row_upper[equal] if equal.any() else None,
            bounds=np.column_stack([self.lower, self.upper]),
            method="highs",
        )
        if result.status == 2:
            return None
        if result.status != 0:
            raise RuntimeError(f"linear program failed: {result.message}")
        return result.x


class Blocks:
    """A system cut into its independent blocks; each block's LP is built on first use."""

    def __init__(self, system: System, block_of_var: np.ndarray) -> None:
        self.system = system
        self.count = int(block_of_var.max()) + 1 if len(block_of_var) else 0
        order = np.argsort(block_of_var, kind="stable")
        self._var_starts = np.searchsorted(block_of_var[order], np.arange(self.count + 1))
        self._vars = order
        local = np.empty(len(order), dtype=np.int64)
        local[order] = np.arange(len(order)) - self._var_starts[block_of_var[order]]
        self._local = local
        a = sparse.vstack([system.a_eq, system.a_ub], format="coo")
        self._row_lower = np.concatenate([system.b_eq, np.full(len(system.b_ub), -np.inf)])
        self._row_upper = np.concatenate([system.b_eq, system.b_ub])
        row_block = np.full(a.shape[0], -1, dtype=np.int64)
        row_block[a.row] = block_of_var[a.col]
        self._row_block = row_block
        entry_order = np.lexsort((a.row, a.col, block_of_var[a.col]))
        self._entries = (a.row[entry_order], a.col[entry_order], a.data[entry_order])
        entry_block = block_of_var[a.col[entry_order]]
        self._entry_starts = np.searchsorted(entry_block, np.arange(self.count + 1))
        row_order = np.argsort(row_block, kind="stable")
        self._rows = row_order
        self._row_starts = np.searchsorted(row_block[row_order], np.arange(self.count + 1))
        self._built: dict[int, BlockLP] = {}
        self._parts: dict[int, tuple] = {}
        self._signatures: dict[int, bytes] = {}

    def outer_bounds(self, blocks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``propagate`` over the system (``blocks``: a mask, those blocks only): outer bounds of
        every unknown by position, the bounds as given for the unknowns of other blocks."""
        row, col, data = self._entries
        if blocks is not None:
            take = np.repeat(blocks, np.diff(self._entry_starts))
            row, col, data = row[take], col[take], data[take]
        return propagate(
            row,
            col,
            data,
            self._row_lower,
            self._row_upper,
            self.system.lower,
            self.system.upper,
        )

    def variables(self, block: int) -> np.ndarray:
        """Positions in the system of the block's unknowns (ascending)."""
        return self._vars[self._var_starts[block] : self._var_starts[block + 1]]

    def lp(self, block: int) -> BlockLP:
        if block not in self._built:
            self._built[block] = BlockLP(*self.parts(block))
        return self._built[block]

    def signature(self, block: int) -> bytes:
        """A digest of everything the block's LP is made of: equal digests, equal answers."""
        if block not in self._signatures:
            self._signatures[block] = self._digest(block)
        return self._signatures[block]

    def _digest(self, block: int) -> bytes:
        digest = hashlib.blake2b(digest_size=16)
        a, *vectors = self.parts(block)
        for array in (a.indptr, a.indices, a.data, *vectors):
            digest.update(np.ascontiguousarray(array).tobytes())
            digest.update(b"|")
        return digest.digest()

    def parts(self, block: int):
        """The block's matrix (by column), row bounds and column bounds."""
        if block in self._parts:
            return self._parts[block]
        self._parts[block] = self._make(block)
        return self._parts[block]

    def _make(self, block: int):
        columns = self.variables(block)
        rows = self._rows[self._row_starts[block] : self._row_starts[block + 1]]
        local_row = np.empty(len(self._row_block), dtype=np.int64)
        local_row[rows] = np.arange(len(rows))
        lo, hi = self._entry_starts[block], self._entry_starts[block + 1]
        row, col, data = (part[lo:hi] for part in self._entries)
        # Entries come sorted by column, then row: the column-wise arrays directly, without a
        # scipy matrix per block (its checks cost more than the small LP itself).
        keep = data != 0
        local_col = self._local[col[keep]]
        a = Columnwise(
            np.concatenate([[0], np.cumsum(np.bincount(local_col, minlength=len(columns)))]).astype(
                np.int32
            ),
            local_row[row[keep]].astype(np.int32),
            data[keep],
            (len(rows), len(columns)),
        )
        return (
            a,
            self._row_lower[rows],
            self._row_upper[rows],
            self.system.lower[columns],
            self.system.upper[columns],
        )


def propagate(
    row: np.ndarray,
    col: np.ndarray,
    data: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    rounds: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on every unknown that hold at every solution of ``row_lower <= A x <= row_upper``.

    Each relation bounds each of its members by what the others can add up to at most and at
    least; bounds tightened this way tighten others in turn, for at most ``rounds`` passes. The
    result is an outer bound of each unknown's interval (exact where a chain of single relations
    decides it), valid only where the system has a solution; a cell whose outer interval is
    narrow needs no LP to be known narrow. ``A`` comes as its entries (row, column, value).
    """
    lo, hi = lower.astype(float).copy(), upper.astype(float).copy()
    n_rows = len(row_lower)
    if not len(data):
        return lo, hi
    positive = data > 0
    rl, ru = row_lower[row], row_upper[row]
    order = np.argsort(col, kind="stable")
    col_sorted = col[order]
    starts = np.flatnonzero(np.r_[True, col_sorted[1:] != col_sorted[:-1]])
    columns = col_sorted[starts]
    with np.errstate(invalid="ignore"):
        for _ in range(rounds):
            least = np.where(positive, data * lo[col], data * hi[col])
            most = np.where(positive, data * hi[col], data * lo[col])
            least_inf, most_inf = np.isneginf(least), np.isposinf(most)
            least_fin = np.where(least_inf, 0.0, least)
            most_fin = np.where(most_inf, 0.0, most)
            sum_least = np.bincount(row, weights=least_fin, minlength=n_rows)
            sum_most = np.bincount(row, weights=most_fin, minlength=n_rows)
            n_least_inf = np.bincount(row, weights=least_inf, minlength=n_rows)
            n_most_inf = np.bincount(row, weights=most_inf, minlength=n_rows)
            others_least = sum_least[row] - least_fin
            others_least[n_least_inf[row] - least_inf > 0] = -np.inf
            others_most = sum_most[row] - most_fin
            others_most[n_most_inf[row] - most_inf > 0] = np.inf
            # a * x in [rl - others_most, ru - others_least]
            low_term, high_term = rl - others_most, ru - others_least
            entry_lo = np.where(positive, low_term / data, high_term / data)
            entry_hi = np.where(positive, high_term / data, low_term / data)
            entry_lo = np.where(np.isnan(entry_lo), -np.inf, entry_lo)
            entry_hi = np.where(np.isnan(entry_hi), np.inf, entry_hi)
            new_lo, new_hi = lo.copy(), hi.copy()
            new_lo[columns] = np.maximum(lo[columns], np.maximum.reduceat(entry_lo[order], starts))
            new_hi[columns] = np.minimum(hi[columns], np.minimum.reduceat(entry_hi[order], starts))
            if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
                break
            lo, hi = new_lo, new_hi
    return lo, hi


def solves(parts: tuple, point: np.ndarray, *, tolerance: float = 1e-9) -> bool:
    """Whether ``point`` satisfies a block's system (``Blocks.parts``) within ``tolerance``."""
    a, row_lower, row_upper, lower, upper = parts
    if not (np.all(point >= lower - tolerance) and np.all(point <= upper + tolerance)):
        return False
    weights = a.data * np.repeat(point, np.diff(a.indptr))
    activity = np.bincount(a.indices, weights=weights, minlength=a.shape[0])
    return bool(
        np.all(activity >= row_lower - tolerance) and np.all(activity <= row_upper + tolerance)
    )
