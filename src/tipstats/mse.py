"""Multiple systems estimation (MSE): the hidden figure behind the detected victims.

Pure: frames and arrays in, frames and dataclasses out. The method follows Chan, Silverman and
Vincent (JASA 2021) and their R package SparseMSE (``estimatepopulation`` with the stepwise
method): a Poisson log-linear model over the ``2^t - 1`` observable capture patterns, main
effects plus two-list interactions added one at a time while the smallest Poisson p-value stays
below a threshold; the estimated total is ``observed + exp(intercept)``.

Pairs of lists that never overlap are handled as in SparseMSE: when such a pair is in the model
its interaction is taken as minus infinity (extended maximum likelihood), i.e. the patterns that
contain both lists are removed from the fit. Every candidate model is checked for existence of
the estimate (the linear program of Fienberg and Rinaldo 2012) and identifiability (rank of the
design). The bootstrap resamples the observed counts (multinomial), repeats the model selection
on each resample and gives a BCa interval with a jackknife acceleration.

Model selection and the bootstrap run on a small numpy IRLS (thousands of fits); the reported
fit of the selected model is statsmodels' GLM, and a test checks that both agree.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from tipstats.errors import TipstatsError

COUNT_COLUMN_NAMES = ("count", "n", "freq", "frequency")
DEFAULT_THRESHOLD = 0.02
DEFAULT_SEED = 1234
DEFAULT_LEVEL = 0.95
MAX_LISTS = 12  # 2^12 - 1 patterns; beyond that the table is unusable for MSE anyway

_IRLS_TOLERANCE = 1e-11
_IRLS_MAX_ITERATIONS = 100
_LP_ZERO = 1e-9
# a converged IRLS whose last step moved no log fitted count by more than this has settled on
# the MLE (Newton converges quadratically); without an MLE the steps stay near 1
_STABLE_STEP = 1e-4


class MSEError(TipstatsError):
    """A capture table or model that MSE cannot use; the message says what is wrong."""


# --------------------------------------------------------------------------------------------
# Input: the capture table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureTable:
    """Counts of every observable capture pattern (zero-count patterns included).

    ``patterns[i, j]`` is 1 when pattern ``i`` includes list ``j``; row ``i`` is the pattern whose
    binary code is ``i + 1`` (list 0 = lowest bit). The all-zero pattern (the dark figure) is not
    a row.
    """

    lists: tuple[str, ...]
    counts: np.ndarray

    @property
    def n_lists(self) -> int:
        return len(self.lists)

    @property
    def observed(self) -> int:
        return int(self.counts.sum())

    @property
    def patterns(self) -> np.ndarray:
        return _design(self.n_lists).patterns

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.patterns, columns=list(self.lists))
        frame["count"] = self.counts
        return frame


def find_count_column(columns: Iterable[str]) -> str:
    """The column holding the counts: named count, Count, n, Freq or Frequency (any case)."""
    names = [str(column) for column in columns]
    found = [name for name in names if name.strip().lower() in COUNT_COLUMN_NAMES]
    if len(found) == 1:
        return found[0]
    if not found:
        raise MSEError(
            "no count column: expected one named count, Count, n, Freq or Frequency; "
            f"found columns {', '.join(names) or '(none)'}"
        )
    raise MSEError(f"several count columns ({', '.join(found)}); keep exactly one")


def capture_table(frame: pd.DataFrame) -> CaptureTable:
    """Validate a frame of t binary list columns plus a count column into a CaptureTable.

    Rows are reported as file rows (header = row 1). Repeated patterns are summed; patterns that
    are absent count zero.
    """
    count_column = find_count_column(frame.columns)
    labels = [column for column in frame.columns if str(column) != count_column]
    lists = tuple(str(column) for column in labels)
    if len(lists) < 2:
        raise MSEError(
            f"MSE needs at least 2 list columns besides {count_column!r}; got {len(lists)}"
        )
    if len(lists) > MAX_LISTS:
        raise MSEError(f"too many lists ({len(lists)}); at most {MAX_LISTS} are supported")
    if len(set(lists)) != len(lists):
        raise MSEError("list column names must be distinct")

    flags = np.zeros((len(frame), len(lists)), dtype=np.int64)
    for j, label in enumerate(labels):
        flags[:, j] = _binary_column(frame[label], lists[j])
    count_label = next(column for column in frame.columns if str(column) == count_column)
    counts = _count_column(frame[count_label], count_column)

    codes = flags @ (1 << np.arange(len(lists)))
    dark = (codes == 0) & (counts > 0)
    if dark.any():
        row = int(np.flatnonzero(dark)[0]) + 2
        raise MSEError(
            f"row {row}: a case on no list (all list columns 0) cannot be observed; "
            "remove the row or fix its list columns"
        )
    table = np.zeros(2 ** len(lists) - 1, dtype=np.int64)
    np.add.at(table, codes[codes > 0] - 1, counts[codes > 0])
    if table.sum() == 0:
        raise MSEError("the table has no observed cases (all counts are zero)")
    return CaptureTable(lists=lists, counts=table)


def _binary_column(column: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise MSEError(
            f"row {position + 2}, column {name!r}: list membership must be 0 or 1, "
            f"got {str(column.iloc[position])!r}"
        )
    return values.to_numpy(dtype=np.int64)


def _count_column(column: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    for position, value in enumerate(values):
        if not np.isfinite(value) or value < 0 or value != np.floor(value):
            raise MSEError(
                f"row {position + 2}, column {name!r}: a count must be a whole number >= 0, "
                f"got {str(column.iloc[position])!r}"
            )
    return values.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Design: every pattern x every term (intercept, main effects, all two-list interactions)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Design:
    n_lists: int
    patterns: np.ndarray  # (cells, t) 0/1
    pairs: tuple[tuple[int, int], ...]
    pair_cells: np.ndarray  # (cells, pairs) 1 where the pattern includes both lists
    full: np.ndarray  # (cells, 1 + t + pairs) float design

    def columns(self, estimable_pairs: Sequence[int]) -> np.ndarray:
        return np.concatenate(
            [np.arange(1 + self.n_lists), 1 + self.n_lists + np.asarray(estimable_pairs, dtype=int)]
        ).astype(int)


@lru_cache(maxsize=16)
def _design(n_lists: int) -> _Design:
    codes = np.arange(1, 2**n_lists)
    patterns = ((codes[:, None] >> np.arange(n_lists)) & 1).astype(np.int64)
    pairs = tuple(itertools.combinations(range(n_lists), 2))
    pair_cells = np.stack([patterns[:, i] * patterns[:, j] for i, j in pairs], axis=1)
    full = np.hstack([np.ones((len(codes), 1)), patterns, pair_cells]).astype(float)
    for array in (patterns, pair_cells, full):
        array.setflags(write=False)
    return _Design(n_lists, patterns, pairs, pair_cells, full)


@dataclass(frozen=True)
class _Layout:
    """Rows and columns of the GLM for one model on one table."""

    rows: np.ndarray  # bool mask over cells kept in the fit
    columns: np.ndarray  # indices into the full design
    estimable: tuple[int, ...]  # model pairs whose lists overlap
    empty: tuple[int, ...]  # model pairs whose lists never overlap (interaction = -inf)


def _layout(design: _Design, model: Sequence[int], overlaps: np.ndarray) -> _Layout:
    empty = tuple(p for p in model if overlaps[p] == 0)
    estimable = tuple(p for p in model if overlaps[p] > 0)
    rows = (
        ~design.pair_cells[:, list(empty)].any(axis=1)
        if empty
        else np.ones(len(design.patterns), dtype=bool)
    )
    return _Layout(rows, design.columns(estimable), estimable, empty)


# --------------------------------------------------------------------------------------------
# Fitting: a small IRLS for the Poisson log-linear model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CoreFit:
    layout: _Layout
    beta: np.ndarray
    fitted: np.ndarray  # over all cells; 0 for the cells removed by empty overlaps
    converged: bool
    last_step: float  # largest change of a log fitted count in the last IRLS step

    @property
    def dark(self) -> float:
        return float(np.exp(self.beta[0]))


def _irls(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """Poisson log-link IRLS with R's starting values (mu = y + 0.1).

    Returns (beta, fitted, converged, largest change of a linear predictor in the last step).
    """
    mu = y + 0.1
    eta = np.log(mu)
    deviance_old = np.inf
    beta = np.zeros(x.shape[1])
    step = np.inf
    for _ in range(_IRLS_MAX_ITERATIONS):
        z = eta + (y - mu) / mu
        xw = x * mu[:, None]
        try:
            beta = np.linalg.solve(x.T @ xw, xw.T @ z)
        except np.linalg.LinAlgError:
            return beta, mu, False, step
        eta_new = x @ beta
        step = float(np.abs(eta_new - eta).max())
        eta = eta_new
        with np.errstate(over="ignore", under="ignore"):
            mu = np.exp(eta)
        deviance = _poisson_deviance(y, mu)
        if not np.isfinite(deviance) or not np.isfinite(mu).all() or mu.min() <= 0:
            # diverging: only models without an estimate do this; the LP check will say so
            return beta, mu, False, step
        if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < _IRLS_TOLERANCE:
            return beta, mu, True, step
        deviance_old = deviance
    return beta, mu, False, step


def _poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)
    return float(2 * terms.sum())


def _fit_core(design: _Design, counts: np.ndarray, model: Sequence[int]) -> _CoreFit:
    overlaps = counts @ design.pair_cells
    layout = _layout(design, model, overlaps)
    x = design.full[np.ix_(layout.rows, layout.columns)]
    beta, mu, converged, last_step = _irls(x, counts[layout.rows].astype(float))
    fitted = np.zeros(len(counts))
    fitted[layout.rows] = mu
    return _CoreFit(layout, beta, fitted, converged, last_step)


# --------------------------------------------------------------------------------------------
# Existence and identifiability
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _check_support(n_lists: int, model: tuple[int, ...], support: bytes) -> tuple[bool, int]:
    """(estimate exists, rank deficiency) for a model, given which cells have positive counts.

    Existence depends only on the support of the counts: the MLE exists iff some strictly
    positive table has the same sufficient statistics (Fienberg and Rinaldo 2012), and the
    indicator of the support spans the same face of the marginal cone as the counts do. So the
    answer is cached per (model, support), which makes the bootstrap cheap.
    """
    design = _design(n_lists)
    cells = len(design.patterns)
    present = np.unpackbits(np.frombuffer(support, dtype=np.uint8))[:cells].astype(float)
    layout = _layout(design, model, present @ design.pair_cells)
    x = design.full[np.ix_(layout.rows, layout.columns)]
    rank_deficiency = x.shape[1] - int(np.linalg.matrix_rank(x))
    return _lp_positive(x, present[layout.rows]) > _LP_ZERO, rank_deficiency


def _lp_positive(x: np.ndarray, y: np.ndarray) -> float:
    """max s such that some table m >= s (all cells) has the sufficient statistics of y."""
    from scipy import optimize

    n_cells, _ = x.shape
    objective = np.zeros(n_cells + 1)
    objective[-1] = -1.0
    a_eq = np.hstack([x.T, np.zeros((x.shape[1], 1))])
    a_ub = np.hstack([-np.eye(n_cells), np.ones((n_cells, 1))])
    result = optimize.linprog(
        objective,
        A_ub=a_ub,
        b_ub=np.zeros(n_cells),
        A_eq=a_eq,
        b_eq=x.T @ y,
        bounds=[(0, None)] * (n_cells + 1),
        method="highs",
    )
    if result.status != 0:
        raise MSEError(f"the existence check (linear program) failed: {result.message}")
    return float(-result.fun)


def _support_key(counts: np.ndarray) -> bytes:
    return np.packbits(counts > 0).tobytes()


@dataclass(frozen=True)
class ModelCheck:
    """Whether a model's estimate exists and is identifiable, with the reasons when it is not."""

    exists: bool
    identifiable: bool
    empty_overlaps: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.exists and self.identifiable


def check_model(
    table: CaptureTable, interactions: Iterable[str | Sequence[str]] = ()
) -> ModelCheck:
    """Check that the model (main effects + the given interactions) has a finite, unique MLE."""
    design = _design(table.n_lists)
    model = _pair_indices(table.lists, interactions)
    exists, rank_deficiency = _check_support(table.n_lists, model, _support_key(table.counts))
    layout = _layout(design, model, table.counts @ design.pair_cells)
    names = _term_names(table.lists, design, layout.columns)
    empty = tuple(_pair_name(table.lists, design.pairs[p]) for p in layout.empty)
    problems: list[str] = []
    if rank_deficiency:
        problems.append(_rank_message(design, layout, names, rank_deficiency))
    if not exists:
        problems.append(_existence_message(table, design, layout))
    return ModelCheck(exists, rank_deficiency == 0, empty, tuple(problems))


def _rank_message(design: _Design, layout: _Layout, names: list[str], deficiency: int) -> str:
    x = design.full[np.ix_(layout.rows, layout.columns)]
    _, _, vt = np.linalg.svd(x)
    null = vt[x.shape[1] - deficiency :]  # rows of vt beyond the rank span the null space
    involved = [names[j] for j in range(len(names)) if np.abs(null[:, j]).max() > 1e-8]
    removed = ""
    if layout.empty:
        pairs = ", ".join(_names_of_pairs(design, layout.empty, names))
        removed = (
            f" once the patterns of the never-overlapping pairs {pairs} are removed"
            f" ({int(layout.rows.sum())} patterns left for {x.shape[1]} parameters)"
        )
    return (
        f"the model is not identifiable: the terms {', '.join(involved)} cannot be separated"
        f"{removed}; design rank deficient by {deficiency}"
    )


def _names_of_pairs(design: _Design, pairs: Sequence[int], names: Sequence[str]) -> list[str]:
    lists = names[1 : 1 + design.n_lists]
    return [_pair_name(lists, design.pairs[p]) for p in pairs]


def _existence_message(table: CaptureTable, design: _Design, layout: _Layout) -> str:
    from scipy import optimize

    x = design.full[np.ix_(layout.rows, layout.columns)]
    y = table.counts[layout.rows].astype(float)
    cells = np.flatnonzero(layout.rows)
    forced = []
    for position, cell in enumerate(cells):
        if y[position] > 0:
            continue
        # max m[cell] over tables with the observed sufficient statistics: 0 means forced to 0
        objective = np.zeros(len(cells))
        objective[position] = -1.0
        bound = [(0, None)] * len(cells)
        bound[position] = (0, 1)
        result = optimize.linprog(objective, A_eq=x.T, b_eq=x.T @ y, bounds=bound, method="highs")
        if result.status == 0 and -result.fun <= _LP_ZERO:
            forced.append(_pattern_name(table.lists, design.patterns[cell]))
    where = f" (patterns {', '.join(forced)})" if forced else ""
    return (
        "the maximum likelihood estimate does not exist: the observed margins force some "
        f"fitted counts to zero{where}, so a parameter of the model would be infinite"
    )


# --------------------------------------------------------------------------------------------
# Stepwise selection (Chan, Silverman and Vincent 2021)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selection:
    model: tuple[int, ...]
    fit: _CoreFit
    steps: tuple[tuple[int, float], ...]


def _select(design: _Design, counts: np.ndarray, threshold: float) -> _Selection | None:
    """Forward stepwise: add the two-list term with the smallest Poisson p-value <= threshold.

    The p-value of a candidate pair compares the observed number of cases on both lists with
    its Poisson distribution under the current fit: min(P(X <= n), P(X >= n)), as SparseMSE's
    ``stepwisefit``. A candidate whose model would have no finite or no unique estimate is
    skipped (SparseMSE sets its p-value to 1). Ties go to the first pair in list order.
    Candidates are checked in order of p-value and only until one passes, which gives the same
    choice as checking all of them. None when the main-effects model has no estimate.
    """
    from scipy import stats

    all_pairs = tuple(range(len(design.pairs)))
    if threshold >= 1:
        full = _checked_fit(design, counts, all_pairs)
        if full is not None:
            return _Selection(all_pairs, full, ())
    model: list[int] = []
    fit = _checked_fit(design, counts, ())
    if fit is None:
        return None
    steps: list[tuple[int, float]] = []
    if threshold <= 0:
        return _Selection((), fit, ())
    overlaps = counts @ design.pair_cells
    while len(model) < len(all_pairs):
        candidates = np.array([p for p in all_pairs if p not in model])
        expected = fit.fitted @ design.pair_cells[:, candidates]
        observed = overlaps[candidates]
        p_values = np.minimum(
            stats.poisson.cdf(observed, expected), stats.poisson.sf(observed - 1, expected)
        )
        chosen = None
        for position in np.lexsort((candidates, p_values)):
            if not p_values[position] <= threshold:
                break
            candidate_fit = _checked_fit(design, counts, (*model, int(candidates[position])))
            if candidate_fit is not None:
                chosen, fit = position, candidate_fit
                break
        if chosen is None:
            break
        model.append(int(candidates[chosen]))
        steps.append((int(candidates[chosen]), float(p_values[chosen])))
    return _Selection(tuple(model), fit, tuple(steps))


def _checked_fit(design: _Design, counts: np.ndarray, model: Sequence[int]) -> _CoreFit | None:
    """The fit of a model whose estimate exists and is identifiable; None otherwise.

    A converged fit whose fitted counts have stopped moving and reproduce the sufficient
    statistics is itself a strictly positive table with the observed margins, which proves
    existence without the linear program. When the estimate does not exist, IRLS keeps pushing
    some log fitted counts down by about 1 per step however long it runs; such fits (and any
    other doubtful one) go to the exact, cached, linear program.
    """
    overlaps = counts @ design.pair_cells
    layout = _layout(design, model, overlaps)
    if _rank_deficiency(design.n_lists, layout.estimable, layout.empty):
        return None
    fit = _fit_core(design, counts, model)
    if _proves_existence(design, counts, fit):
        return fit
    exists, _ = _check_support(design.n_lists, tuple(sorted(model)), _support_key(counts))
    return fit if exists else None


def _proves_existence(design: _Design, counts: np.ndarray, fit: _CoreFit) -> bool:
    if not fit.converged or fit.last_step > _STABLE_STEP:
        return False
    rows = fit.layout.rows
    mu = fit.fitted[rows]
    if mu.min() <= 0:
        return False
    x = design.full[np.ix_(rows, fit.layout.columns)]
    score = x.T @ (counts[rows] - mu)
    return float(np.abs(score).max()) <= 1e-7 * max(1.0, float(counts.sum()))


@lru_cache(maxsize=4096)
def _rank_deficiency(n_lists: int, estimable: tuple[int, ...], empty: tuple[int, ...]) -> int:
    design = _design(n_lists)
    rows = ~design.pair_cells[:, list(empty)].any(axis=1) if empty else slice(None)
    x = design.full[rows][:, design.columns(estimable)]
    return x.shape[1] - int(np.linalg.matrix_rank(x))


def _stepwise_estimate(design: _Design, counts: np.ndarray, threshold: float) -> float:
    """observed + dark figure of the stepwise model; NaN when even the main effects fail."""
    selection = _select(design, counts, threshold)
    if selection is None or not selection.fit.converged:
        return float("nan")
    return float(counts.sum()) + selection.fit.dark


# --------------------------------------------------------------------------------------------
# Reported fit (statsmodels)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MSEFit:
    """A fitted log-linear model and its population estimate."""

    lists: tuple[str, ...]
    interactions: tuple[str, ...]
    empty_overlaps: tuple[str, ...]
    observed: int
    estimate: float
    dark_figure_se_log: float
    coefficients: pd.DataFrame
    deviance: float
    df_resid: int
    aic: float
    steps: tuple[tuple[str, float], ...] = ()

    @property
    def dark_figure(self) -> float:
        return self.estimate - self.observed

    @property
    def model(self) -> str:
        return " + ".join(["main effects", *self.interactions])


def fit_model(table: CaptureTable, interactions: Iterable[str | Sequence[str]] = ()) -> MSEFit:
    """Fit main effects + the given interactions (statsmodels GLM); refuse a model that fails
    the existence or identifiability check, saying why."""
    model = _pair_indices(table.lists, interactions)
    pairs = _design(table.n_lists).pairs
    check = check_model(table, [_pair_name(table.lists, pairs[p]) for p in model])
    if not check.ok:
        raise MSEError(f"model {_model_label(table, model)}: " + "; ".join(check.problems))
    return _statsmodels_fit(table, model, ())


def _statsmodels_fit(
    table: CaptureTable, model: Sequence[int], steps: Sequence[tuple[int, float]]
) -> MSEFit:
    design = _design(table.n_lists)
    layout = _layout(design, model, table.counts @ design.pair_cells)
    names = _term_names(table.lists, design, layout.columns)
    x = pd.DataFrame(design.full[np.ix_(layout.rows, layout.columns)], columns=names)
    y = table.counts[layout.rows].astype(float)
    # statsmodels takes a second or more to import: only the fit pays for it, not every command
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    with warnings.catch_warnings():
        # a saturated model (0 residual df) makes statsmodels warn about its scale; the model
        # has passed the existence and identifiability checks already
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        result = sm.GLM(y, x, family=sm.families.Poisson()).fit(tol=1e-12, maxiter=200)
    coefficients = pd.DataFrame(
        {
            "term": names,
            "estimate": result.params.to_numpy(),
            "std_error": result.bse.to_numpy(),
            "z": result.tvalues.to_numpy(),
            "p_value": result.pvalues.to_numpy(),
        }
    )
    intercept = float(result.params.iloc[0])
    return MSEFit(
        lists=table.lists,
        interactions=tuple(_pair_name(table.lists, design.pairs[p]) for p in model),
        empty_overlaps=tuple(_pair_name(table.lists, design.pairs[p]) for p in layout.empty),
        observed=table.observed,
        estimate=table.observed + float(np.exp(intercept)),
        dark_figure_se_log=float(result.bse.iloc[0]),
        coefficients=coefficients,
        deviance=float(result.deviance),
        df_resid=int(result.df_resid),
        # as SparseMSE: each never-overlapping pair in the model counts as a parameter
        aic=float(result.aic) + 2 * len(layout.empty),
        steps=tuple((_pair_name(table.lists, design.pairs[p]), pv) for p, pv in steps),
    )


def stepwise_fit(table: CaptureTable, threshold: float = DEFAULT_THRESHOLD) -> MSEFit:
    """Select the model stepwise and fit it; the main-effects model must itself be estimable."""
    check = check_model(table)
    if not check.ok:
        raise MSEError("main-effects model: " + "; ".join(check.problems))
    selection = _select(_design(table.n_lists), table.counts, threshold)
    if selection is None:  # excluded by the check above; kept for the type checker
        raise MSEError("main-effects model: no estimate")
    return _statsmodels_fit(table, selection.model, selection.steps)


# --------------------------------------------------------------------------------------------
# Bootstrap with model selection repeated, BCa interval
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapInterval:
    ci_low: float
    ci_high: float
    level: float
    n_resamples: int
    n_failed: int
    seed: int
    bias_correction: float
    acceleration: float
    replicates: np.ndarray = field(repr=False)


def bootstrap_interval(
    table: CaptureTable,
    n_resamples: int = 1000,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
    estimate: float | None = None,
) -> BootstrapInterval:
    """BCa interval for the total, re-running the stepwise selection on every resample.

    Resamples are multinomial draws of the observed total over the observed patterns (patterns
    with zero count stay zero), as SparseMSE's ``estimatepopulation``; the acceleration comes from
    a delete-one-case jackknife weighted by the pattern counts. Resamples whose main-effects model
    has no finite estimate (a list left empty) are dropped and counted in ``n_failed``.
    """
    from scipy import stats

    if n_resamples < 10:
        raise MSEError(f"the bootstrap needs at least 10 resamples, got {n_resamples}")
    if not 0 < level < 1:
        raise MSEError(f"the confidence level must lie between 0 and 1, got {level}")
    design = _design(table.n_lists)
    counts = table.counts
    if estimate is None:
        estimate = _stepwise_estimate(design, counts, threshold)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(table.observed, counts / counts.sum(), size=n_resamples)
    replicates = np.array([_stepwise_estimate(design, draw, threshold) for draw in draws])
    good = replicates[np.isfinite(replicates)]
    if len(good) < 10:
        raise MSEError("the bootstrap failed: fewer than 10 resamples gave a finite estimate")

    jackknife = np.zeros(len(counts))
    for cell in np.flatnonzero(counts):
        reduced = counts.copy()
        reduced[cell] -= 1
        jackknife[cell] = _stepwise_estimate(design, reduced, threshold)
    weights = counts / counts.sum()
    if not np.isfinite(jackknife[counts > 0]).all():
        acceleration = 0.0
    else:
        residuals = weights @ jackknife - jackknife
        spread = (counts * residuals**2).sum()
        acceleration = float((counts * residuals**3).sum() / (6 * spread**1.5)) if spread else 0.0

    # keep z0 finite when the estimate lies outside all replicates
    below = np.clip(np.mean(good < estimate), 0.5 / len(good), 1 - 0.5 / len(good))
    z0 = float(stats.norm.ppf(below))
    z_alpha = stats.norm.ppf([(1 - level) / 2, (1 + level) / 2])
    shifted = z0 + z_alpha
    probabilities = stats.norm.cdf(z0 + shifted / (1 - acceleration * shifted))
    low, high = np.quantile(good, probabilities, method="median_unbiased")  # R type 8
    return BootstrapInterval(
        ci_low=float(low),
        ci_high=float(high),
        level=level,
        n_resamples=n_resamples,
        n_failed=int(n_resamples - len(good)),
        seed=seed,
        bias_correction=z0,
        acceleration=acceleration,
        replicates=replicates,
    )


# --------------------------------------------------------------------------------------------
# One call: estimate, model, interval
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MSEResult:
    fit: MSEFit
    threshold: float
    interval: BootstrapInterval | None

    @property
    def observed(self) -> int:
        return self.fit.observed

    @property
    def estimate(self) -> float:
        return self.fit.estimate

    @property
    def dark_figure(self) -> float:
        return self.fit.dark_figure

    def to_dict(self) -> dict[str, object]:
        interval = self.interval
        return {
            "lists": list(self.fit.lists),
            "observed": self.observed,
            "estimate": self.estimate,
            "dark_figure": self.dark_figure,
            "ci_low": interval.ci_low if interval else None,
            "ci_high": interval.ci_high if interval else None,
            "ci_level": interval.level if interval else None,
            "ci_method": "BCa bootstrap, model selection repeated" if interval else None,
            "n_resamples": interval.n_resamples if interval else 0,
            "n_failed_resamples": interval.n_failed if interval else 0,
            "seed": interval.seed if interval else None,
            "model": self.fit.model,
            "interactions": list(self.fit.interactions),
            "empty_overlaps": list(self.fit.empty_overlaps),
            "threshold": self.threshold,
            "selection_steps": [{"term": t, "p_value": p} for t, p in self.fit.steps],
            "deviance": self.fit.deviance,
            "df_resid": self.fit.df_resid,
            "aic": self.fit.aic,
        }


def estimate_population(
    data: pd.DataFrame | CaptureTable,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    n_resamples: int = 1000,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> MSEResult:
    """Stepwise MSE estimate of the total population, with a BCa interval when n_resamples > 0."""
    if not 0 <= threshold <= 1:
        raise MSEError(f"the p-value threshold must lie between 0 and 1, got {threshold}")
    table = data if isinstance(data, CaptureTable) else capture_table(data)
    fit = stepwise_fit(table, threshold)
    interval = None
    if n_resamples:
        interval = bootstrap_interval(
            table, n_resamples, threshold=threshold, seed=seed, level=level, estimate=fit.estimate
        )
    return MSEResult(fit=fit, threshold=threshold, interval=interval)


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def _pair_name(lists: Sequence[str], pair: tuple[int, int]) -> str:
    return f"{lists[pair[0]]}:{lists[pair[1]]}"


def _pattern_name(lists: Sequence[str], pattern: np.ndarray) -> str:
    return "{" + ",".join(name for name, flag in zip(lists, pattern, strict=True) if flag) + "}"


def _term_names(lists: Sequence[str], design: _Design, columns: np.ndarray) -> list[str]:
    names = ["(intercept)", *lists, *(_pair_name(lists, pair) for pair in design.pairs)]
    return [names[c] for c in columns]


def _model_label(table: CaptureTable, model: Sequence[int]) -> str:
    pairs = _design(table.n_lists).pairs
    return " + ".join(["main effects", *(_pair_name(table.lists, pairs[p]) for p in model)])


def _pair_indices(
    lists: Sequence[str], interactions: Iterable[str | Sequence[str]]
) -> tuple[int, ...]:
    """Pair indices for interactions given as "A:B" or ("A", "B"), in list order."""
    pairs = list(itertools.combinations(range(len(lists)), 2))
    position = {name: i for i, name in enumerate(lists)}
    chosen: set[int] = set()
    for term in interactions:
        names = term.split(":") if isinstance(term, str) else list(term)
        if len(names) != 2 or names[0] == names[1]:
            raise MSEError(f"interaction {term!r}: name two different lists, e.g. 'A:B'")
        unknown = [name for name in names if name not in position]
        if unknown:
            raise MSEError(
                f"interaction {term!r}: unknown list {unknown[0]!r}; lists are {', '.join(lists)}"
            )
        i, j = sorted(position[name] for name in names)
        chosen.add(pairs.index((i, j)))
    return tuple(sorted(chosen))
