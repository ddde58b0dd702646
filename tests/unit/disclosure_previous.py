"""The disclosure search as it was before the block-by-block solver (commit 02657ed).

Kept verbatim (its own docstring aside) as the oracle of ``test_disclosure_fast.py`` and
``tests/sql/test_disclosure_fast_on_marts.py``: the library's search must hide exactly the cells
this one hides. Not collected by pytest (no ``test_`` prefix); do not edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

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
    constraints: list[Constraint] = []
    labels = frame[list(dimensions)].astype(str).to_numpy() if dimensions else None
    key_of = (
        [tuple(row) for row in frame[list(keys)].astype(str).to_numpy()]
        if keys
        else [()] * len(frame)
    )
    for d, dim in enumerate(dimensions):
        others = [*keys, *(x for x in dimensions if x != dim)]
        is_total = (frame[dim] == TOTAL).to_numpy()
        # The categories a sub-table uses in this dimension: a group lacking one of them is
        # incomplete, and a reader cannot tell a missing row from a zero.
        categories: dict[tuple, set[str]] = {}
        for position in np.flatnonzero(~is_total):
            categories.setdefault(key_of[position], set()).add(labels[position, d])
        grouped = (
            frame.groupby(others, sort=False, dropna=False).indices
            if others
            else {(): np.arange(len(frame))}
        )
        for positions in grouped.values():
            totals = [p for p in positions if is_total[p]]
            parts = tuple(int(p) for p in positions if not is_total[p])
            if len(totals) != 1 or not parts:
                continue
            total = int(totals[0])
            if np.isnan(values[total]):
                continue
            part_values = values[list(parts)]
            complete = {labels[p, d] for p in parts} == categories[key_of[total]]
            if assume_exact:
                exact = complete
            else:
                gap = values[total] - np.nansum(part_values)
                if gap < -_EPS:
                    continue  # parts exceed the total: no valid relation to lean on
                # Unknown parts (censored "<5") may close the gap: a reader who assumes the
                # table adds up learns from it, so the relation is exact when they can.
                unknown = int(np.isnan(part_values).sum())
                room = unknown * unknown_at_most if unknown else 0.0
                exact = complete and gap <= room + _EPS
            constraints.append(Constraint(total, parts, bool(exact) and dim not in at_least))
    return constraints


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
    touching = [c for c in constraints if any(flag_arr[m] in SUPPRESSED for m in c.members)]
    low = np.full(len(flag_arr), np.inf)
    high = np.full(len(flag_arr), -np.inf)
    if not exact_intervals:
        # All components at once: a vertex of the whole system is a vertex of each block.
        system = _System.build(hidden, pub, flag_arr, touching, config)
        points = system.feasible_points()
        if not points:
            # Some block contradicts itself (hidden cells added since its relations were
            # checked): relax those blocks, as a reader would, rather than solving every cell
            # on its own against a system with no solution.
            touching = consistent_constraints(
                pub, flag_arr, touching, config, hidden=np.isin(flag_arr, SUPPRESSED)
            )
            system = _System.build(hidden, pub, flag_arr, touching, config)
            points = system.feasible_points()
        for point in points:
            low[hidden] = np.minimum(low[hidden], point)
            high[hidden] = np.maximum(high[hidden], point)
        # Cells still too narrow are pushed up and down together, a few times, before any
        # gets its own two LPs: most are merely not moved by the directions tried so far.
        needed = _min_width_of(hidden, flag_arr, config)
        weights_of = np.random.default_rng(len(hidden))
        for _ in range(_BATCH_TRIES):
            close = (high[hidden] - low[hidden]) < needed
            if not close.any():
                break
            weights = weights_of.uniform(0.5, 1.5, size=len(hidden)) * close
            before = int(close.sum())
            for point in system.points([weights, -weights]):
                low[hidden] = np.minimum(low[hidden], point)
                high[hidden] = np.maximum(high[hidden], point)
            if int(((high[hidden] - low[hidden]) < needed).sum()) == before:
                break  # the rest are (nearly) pinned: their own LPs will tell
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
            if exact_intervals or hi - lo < needed[i]:
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
    return pd.DataFrame(rows, columns=columns).sort_values("cell", ignore_index=True)


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


# Caps the unbounded cells while looking for feasible points: a capped point is still feasible.
_CAP = 1e7
# Random directions (and their opposites) tried before any cell gets its own two LPs.
_DIRECTIONS = 2
# Rounds of pushing the still-narrow cells together before each gets its own LPs.
_BATCH_TRIES = 6


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

    def points(self, objectives: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Feasible vertices for the given objectives (unbounded cells capped)."""
        capped = [(lo, _CAP if hi is None else hi) for lo, hi in self.bounds]
        found = []
        for objective in objectives:
            result = self._solve(objective, capped)
            if result.status == 0:
                found.append(result.x)
        return found

    def feasible_points(self) -> list[np.ndarray]:
        """Vertices for the objectives +-sum and +- a few fixed pseudo-random directions."""
        n = len(self.bounds)
        capped = [(lo, _CAP if hi is None else hi) for lo, hi in self.bounds]
        directions = np.random.default_rng(n).uniform(-1.0, 1.0, size=(_DIRECTIONS, n))
        objectives = [np.ones(n), -np.ones(n), *directions, *(-directions)]
        points = []
        for objective in objectives:
            result = self._solve(objective, capped)
            if result.status == 0:
                points.append(result.x)
        return points


def _touches_not_available(constraint: Constraint, flags: np.ndarray) -> bool:
    return any(flags[m] == NOT_AVAILABLE for m in constraint.members)


def _min_width_of(component: list[int], flags: np.ndarray, config: DisclosureConfig) -> np.ndarray:
    """The narrowest interval each hidden cell may have: a point never, ``<5`` ``min_width``."""
    return np.array(
        [
            config.min_width - _EPS if flags[cell] == SUPPRESSED_PRIMARY else _EPS
            for cell in component
        ]
    )


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
    by_cell: dict[int, list[Constraint]] = {}
    for constraint in constraints:
        for member in constraint.members:
            by_cell.setdefault(member, []).append(constraint)

    def rank(cell: int) -> tuple:
        # Exempt aggregates last; zeros only when nothing else is left; then the smallest
        # value, interior cells before margins.
        return (bool(ex[cell]), v[cell] == 0, v[cell], cell in margins, cell)

    def candidates(group: Sequence[Constraint], *, allow_exempt: bool = True) -> list[int]:
        cells = {
            m
            for c in group
            for m in c.members
            if out[m] == OBSERVED and (allow_exempt or not ex[m])
        }
        return sorted(cells, key=rank)

    for _ in range(max_rounds):
        _pair_up(out, constraints, candidates)
        audit = check_recovery(
            np.where(np.isin(out, SUPPRESSED), np.nan, v),
            out,
            constraints,
            config,
            exact_intervals=False,
        )
        exposed = audit.loc[audit["exposed"], "cell"].tolist()
        if not exposed:
            return out
        if not _widen(exposed, out, by_cell, candidates, constraints):
            raise DisclosureError(
                f"cannot protect cell {exposed[0]}: every cell linked to it is already hidden",
                cell=exposed[0],
            )
    raise DisclosureError("secondary suppression did not converge")


def _pair_up(out: np.ndarray, constraints: Sequence[Constraint], candidates) -> None:
    """Until no constraint group holds exactly one suppressed cell, hide one more in it."""
    changed = True
    while changed:
        changed = False
        for constraint in constraints:
            hidden = sum(out[m] in SUPPRESSED for m in constraint.members)
            if hidden != 1:
                continue
            pick = candidates([constraint], allow_exempt=False)
            if pick:
                out[pick[0]] = SUPPRESSED_SECONDARY
                changed = True


def _widen(
    exposed: list[int],
    out: np.ndarray,
    by_cell: dict[int, list[Constraint]],
    candidates,
    constraints: Sequence[Constraint],
) -> bool:
    """Hide one more cell near each exposed cell not next to one widened this round.

    False when no exposed cell has anything left to hide around it.
    """
    done: set[int] = set()
    # One more hidden cell per exposed cell, except next to a cell widened this round: hiding
    # one often frees its neighbours too, and hiding for each of them would over-suppress.
    widened = False
    for cell in exposed:
        if cell in done:
            continue
        if _widen_one(cell, out, by_cell, candidates):
            done.update(m for c in by_cell.get(cell, []) for m in c.members)
            widened = True
    return widened


def _widen_one(cell: int, out: np.ndarray, by_cell, candidates) -> bool:
    # Nearest published cells first: its own groups, then groups one step further, and so on
    # through the whole block of linked constraints.
    seen_cells = {cell}
    seen_groups: set[int] = set()
    frontier = [cell]
    while frontier:
        groups = [c for n in frontier for c in by_cell.get(n, []) if id(c) not in seen_groups]
        seen_groups.update(id(c) for c in groups)
        pick = candidates(groups)
        if pick:
            out[pick[0]] = SUPPRESSED_SECONDARY
            return True
        frontier = [m for c in groups for m in c.members if m not in seen_cells]
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
        constraints = margin_constraints(
            frame,
            dimensions,
            keys=keys,
            value=value,
            unknown_at_most=config.threshold - 1.0,
            at_least=at_least,
        )
        constraints = consistent_constraints(values, flags, constraints, config)
        try:
            flags = secondary_suppression(values, flags, constraints, config, exempt=ex)
            flags = _protect_against_reader(
                frame, values, flags, dimensions, config, keys, ex, at_least
            )
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
    known = pd.Series(np.nan_to_num(shown, nan=0.0)).where(flags != NOT_AVAILABLE)
    constraints = margin_constraints(
        frame.assign(_v=known.to_numpy()),
        dimensions,
        keys=keys,
        value="_v",
        assume_exact=True,
        unknown_at_most=config.threshold - 1.0,
        at_least=at_least,
    )
    return consistent_constraints(
        shown, flags, constraints, config, hidden=np.isin(flags, SUPPRESSED)
    )


def _protect_against_reader(frame, values, flags, dimensions, config, keys, exempt, at_least):
    """Hide more while a reader who takes the published table as additive can pin a cell.

    Protection reasons with the true values (a relation is exact only where they add up); a
    reader sees only the published figures and assumes every complete relation exact. Where
    the two differ (sums over censored cells, uneven sources) the reader's view decides too.
    """
    for _ in range(10):
        shown = np.where(flags == OBSERVED, values, np.nan)
        constraints = reader_constraints(
            frame, shown, flags, dimensions, config, keys=keys, at_least=at_least
        )
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
    cells = [int(c) for c in np.flatnonzero(unknown)]
    out = list(constraints)
    by_cell: dict[int, list[int]] = {}
    for number, constraint in enumerate(out):
        for member in constraint.members:
            by_cell.setdefault(member, []).append(number)
    linked = [c for c in out if any(unknown[m] for m in c.members)]
    if hidden is not None:
        # A reader's view is checked block by block only when the whole of it has no solution.
        whole = _System.build(cells, shown, check_flags, linked, config)
        if whole._solve(np.zeros(len(cells)), whole.bounds).status == 0:
            return list(constraints)
    for block in _components(cells, linked):
        numbers = sorted({n for cell in block for n in by_cell.get(cell, ())})
        own = [out[n] for n in numbers]
        if hidden is None and (len(own) < 2 or not any(c.exact for c in own)):
            continue  # one relation alone was checked when it was made (not a reader's)
        system = _System.build(block, shown, check_flags, own, config)
        if system._solve(np.zeros(len(block)), system.bounds).status == 0:
            continue
        for n in numbers:
            if any(unknown[m] for m in out[n].members):
                out[n] = Constraint(out[n].total, out[n].parts, exact=False)
        relaxed = _System.build(block, shown, check_flags, [out[n] for n in numbers], config)
        if relaxed._solve(np.zeros(len(block)), relaxed.bounds).status != 0:
            for n in numbers:
                if any(unknown[m] for m in out[n].members):
                    out[n] = Constraint(out[n].total, (), exact=False)  # no relation left
    return [c for c in out if c.parts]


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
