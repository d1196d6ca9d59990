"""The allocation problem in solver form, and the two things every solver asks of it.

Why apart from `serving.decisions.allocation`: the price solver
(`serving.decisions.allocation_prices`) and the allocator both work on the same laid-out problem:
gains as (actions × users) rows in priority order (cost, then index), only the limits that can bind
priced. `lagrangian` is the bound both report; `lp_solution` is the exact LP relaxation (HiGHS) for
modest sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # SciPy is imported where the LP is built (~0.9 CPU s every service process
    import scipy.sparse as sp  # paid at start-up otherwise, for instances that may never need it)

__all__ = ["Problem", "best_rows", "lagrangian", "lp_solution", "prepare", "priced_limits"]


@dataclass(frozen=True)
class Problem:
    """Inputs with actions as rows in priority order (cost, then index): gains are (k, n)."""

    gain: np.ndarray  # (k, n); -inf where the pair is not a candidate or gains nothing
    cost: np.ndarray  # (k,)
    capacity: np.ndarray  # (k,) whole contacts; inf = unlimited
    budget: float
    action: np.ndarray  # (k,) original action index of each row
    use: np.ndarray  # (k, d) what one contact uses of each priced limit
    supply: np.ndarray  # (d,) the priced limits
    priced: np.ndarray  # (d,) -1 for the budget, else the row whose capacity it is


def prepare(
    gain: np.ndarray,
    candidate: np.ndarray,
    cost: np.ndarray,
    capacity: np.ndarray | None,
    budget: float,
) -> Problem:
    """Check the inputs; lay gains out by action in priority order; find limits that can bind."""
    gain, candidate = np.asarray(gain, dtype=float), np.asarray(candidate, dtype=bool)
    n, k = gain.shape
    cost = np.asarray(cost, dtype=float).reshape(k)
    cap = np.full(k, np.inf) if capacity is None else np.asarray(capacity, float).reshape(k)
    if candidate.shape != (n, k):
        raise ValueError(f"candidate has shape {candidate.shape}; gain has {(n, k)}")
    if not (np.isfinite(cost).all() and (cost >= 0).all()):
        raise ValueError("cost must be finite and >= 0")
    if np.isnan(cap).any() or (cap < 0).any() or np.isnan(budget) or budget < 0:
        raise ValueError("capacity and budget must be >= 0 (np.inf: unlimited)")
    if (candidate & ~np.isfinite(gain)).any():
        raise ValueError("gain is not finite on some candidate pair")
    order = np.lexsort((np.arange(k), cost))
    rows = np.full((k, n), -np.inf)
    for row, a in enumerate(order):
        np.copyto(rows[row], gain[:, a], where=candidate[:, a] & (gain[:, a] > 0))
    cost, cap = cost[order], np.floor(cap[order])
    users = np.count_nonzero(rows.max(axis=0, initial=-np.inf) > 0)
    use, supply, priced = priced_limits(cost, cap, budget, users, np.isfinite(rows).sum(axis=1))
    return Problem(rows, cost, cap, float(budget), order, use, supply, priced)


def priced_limits(
    cost: np.ndarray, cap: np.ndarray, budget: float, users: int, candidates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`use`, `supply` and `priced` of a Problem whose rows (priority order) have these costs
    and capacities, `users` users with a positive pair and `candidates` positive pairs per row.

    Apart from `prepare` because a streamed run counts users and pairs batch by batch and lays
    out the whole population's limits once (serving/decisions/allocation_stream.py).
    """
    # A limit that no allocation can reach never binds: leave it out (price 0).
    reach = users * cost.max(initial=0)
    priced = ([-1] if budget < reach else []) + [int(r) for r in np.flatnonzero(cap < candidates)]
    use = np.zeros((len(cost), len(priced)))
    for j, r in enumerate(priced):
        use[:, j] = cost if r < 0 else np.arange(len(cost)) == r
    supply = np.array([budget if r < 0 else cap[r] for r in priced], dtype=float)
    return use, supply, np.array(priced, int)


def best_rows(
    rows: Callable[[int], np.ndarray], ranks: list[int] | range, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Best value and row per column over `ranks`, ascending (ties keep the lower row; -1: none)."""
    best, arg = np.full(size, -np.inf), np.full(size, -1, dtype=np.int64)
    for r in ranks:
        value = rows(r)
        better = value > best
        best = np.where(better, value, best)
        arg[better] = r
    return best, arg


def lagrangian(p: Problem, theta: np.ndarray, out: np.ndarray) -> tuple[float, np.ndarray]:
    """L(theta) on the whole population and its demand on each priced limit.

    Leaves the reduced gains g - lam c - mu in `out` (reused: no fresh (k, n) array per call).
    """
    np.subtract(p.gain, (p.use @ theta)[:, None], out=out)
    top = out.max(axis=0, initial=0.0)
    takers = np.array([np.count_nonzero((row == top) & (top > 0)) for row in out])
    return float(top.sum() + theta @ p.supply), p.use.T @ takers


def _pairs(p: Problem) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray]:
    """Candidate pairs (row, user), the LP's limits A x <= b, and the line of each priced one."""
    row, user = np.nonzero(np.isfinite(p.gain))
    n, m = p.gain.shape[1], len(row)
    fin = np.flatnonzero(np.isfinite(p.capacity))
    line = np.full(len(p.cost), -1)
    line[fin] = n + np.arange(len(fin))
    capped = line[row] >= 0
    i, j = [user, line[row][capped]], [np.arange(m), np.flatnonzero(capped)]
    v, upper = [np.ones(m + capped.sum())], [np.ones(n), p.capacity[fin]]
    if np.isfinite(p.budget):
        i, j = [*i, np.full(m, n + len(fin))], [*j, np.arange(m)]
        v, upper = [*v, p.cost[row]], [*upper, [p.budget]]
    upper = np.concatenate(upper)
    at = (np.concatenate(i), np.concatenate(j))
    import scipy.sparse as sp

    matrix = sp.csr_matrix((np.concatenate(v), at), shape=(len(upper), m))
    return row, user, matrix, upper, np.where(p.priced < 0, len(upper) - 1, line[p.priced])


def lp_solution(p: Problem) -> tuple[float, np.ndarray] | None:
    """The LP relaxation by HiGHS: its optimum and the priced limits' duals (None: unsolved)."""
    from scipy.optimize import linprog

    row, user, matrix, upper, lines = _pairs(p)
    if not len(row):
        return 0.0, np.zeros(len(p.priced))
    result = linprog(-p.gain[row, user], A_ub=matrix, b_ub=upper, bounds=(0, 1), method="highs")
    if result.status != 0:
        return None
    return float(-result.fun), np.maximum(-result.ineqlin.marginals[lines], 0.0)
