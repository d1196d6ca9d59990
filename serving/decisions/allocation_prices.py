"""Prices for the allocation's limits: the Lagrangian dual, minimised fast.

For any budget price lam >= 0 and capacity prices mu >= 0, L(lam, mu) bounds the optimum, and
min L equals the LP relaxation (see `serving.decisions.allocation`). Up to `lp_max_pairs` candidate
pairs the exact LP duals are used; above, L is minimised by projected Newton on an entropy-smoothed
L (k + 1 <= 8 variables) while the smoothing shrinks, on a seeded stratified sample of users
when the population is large, then corrected with the whole population's excess demand.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from serving.decisions.allocation_problem import Problem, lagrangian, lp_solution

__all__ = ["sampled_prices", "solve_prices"]

START_RADIUS = 100.0  # first trust region, in typical best gains per price
REFINE_STEPS = 5  # whole-population price corrections after the sample
_TAUS = (0.1, 0.02, 0.004, 0.0008, 0.00016)  # smoothing, as shares of the median best gain


def _smoothed(
    gain: np.ndarray,
    use: np.ndarray,
    supply: np.ndarray,
    theta: np.ndarray,
    tau: float,
    hessian: bool = True,
):
    """Entropy-smoothed L (>= L) and, on request, its gradient and Hessian."""
    reduced = gain - (use @ theta)[:, None]
    top = reduced.max(axis=0, initial=0.0)
    weight = np.exp((reduced - top) / tau)
    total = np.exp(-top / tau) + weight.sum(axis=0)
    value = float((top + tau * np.log(total)).sum() + theta @ supply)
    if not hessian:
        return value, None, None
    share = weight / total  # (k, m): each user's probability of each action
    spread = use.T @ share
    hess = ((use.T * share.sum(axis=1)) @ use - spread @ spread.T) / tau
    return value, supply - spread.sum(axis=1), hess


def _direction(grad: np.ndarray, hess: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Projected Newton step: limits priced at 0 and not over-used stay at 0.

    The ridge keeps it defined where L is flat (when every action has a capacity, the budget's
    column is a combination of theirs); the callers' trust region tames the long steps.
    """
    free = (theta > 0) | (grad < 0)
    step = np.zeros_like(theta)
    if free.any():
        block = hess[np.ix_(free, free)]
        ridge = 1e-9 * np.abs(np.diag(block)).max() + 1e-300
        step[free] = -np.linalg.solve(block + ridge * np.eye(len(block)), grad[free])
    return step


def _trial(
    theta: np.ndarray, step: np.ndarray, unit: np.ndarray, radius: float
) -> tuple[np.ndarray, float]:
    """theta + step, cut to move no price more than `radius` units; and the move's length."""
    length = float(np.max(np.abs(step) / unit, initial=0.0))
    shrink = min(1.0, radius / length) if length > 0 else 1.0
    return np.maximum(theta + shrink * step, 0.0), min(length, radius)


def _minimise(
    gain: np.ndarray,
    use: np.ndarray,
    supply: np.ndarray,
    theta: np.ndarray,
    tau: float,
    unit: np.ndarray,
    radius: float = 1.0,
    iterations: int = 8,
) -> tuple[np.ndarray, float]:
    """Projected Newton with a box trust region on the smoothed L; prices and last radius."""
    for _ in range(iterations):
        value, grad, hess = _smoothed(gain, use, supply, theta, tau)
        step = _direction(grad, hess, theta)
        for _ in range(30):
            trial, length = _trial(theta, step, unit, radius)
            trial_value = _smoothed(gain, use, supply, trial, tau, hessian=False)[0]
            if trial_value < value:
                break
            radius = length / 4
        else:
            break
        theta, radius = trial, max(radius, 2 * length)
        if value - trial_value <= 1e-12 * abs(value):
            break
    return theta, radius


def _sample(best: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Users drawn without replacement in proportion to their best action (-1: left out)."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(best + 1)[1:]
    quota = counts * size / counts.sum()
    take = np.floor(quota).astype(np.int64)
    take[np.argsort(take - quota, kind="stable")[: size - take.sum()]] += 1
    drawn = [
        rng.choice(np.flatnonzero(best == r), take[r], replace=False) for r in range(len(take))
    ]
    return np.sort(np.concatenate(drawn))


def solve_prices(
    p: Problem, best_row: np.ndarray, lp_max_pairs: int, sample_users: int, seed: int
) -> tuple[list[np.ndarray], float, str]:
    """Candidate prices (lowest whole-population L first), that lowest L, and how."""
    out, active = np.empty_like(p.gain), np.flatnonzero(best_row >= 0)
    sampled = len(active) > sample_users
    users = _sample(best_row, sample_users, seed) if sampled else active
    gain, share = p.gain[:, users], len(users) / len(active)
    scale = float(np.median(gain.max(axis=0)))
    unit = scale / p.use.max(axis=0, initial=0.0)  # a price move worth a typical best gain
    solved = lp_solution(p) if np.count_nonzero(np.isfinite(p.gain)) <= lp_max_pairs else None
    if solved is not None:
        # Exact duals leave many users exactly indifferent; lightly smoothed ones near them
        # often steer the allocation better, so both are tried.
        theta = solved[1]
        near = _minimise(gain, p.use, p.supply * share, theta, _TAUS[-1] * scale, unit)[0]
        tried = sorted((lagrangian(p, t, out)[0], i, t) for i, t in enumerate((theta, near)))
        return [t for *_, t in tried], tried[0][0], "lp_prices"
    if sampled:
        theta, value = sampled_prices(gain, p.use, p.supply, share, lambda t: lagrangian(p, t, out))
        return [theta], value, "sampled_prices"
    theta, radius, best = np.zeros(len(p.supply)), START_RADIUS, (np.inf, None)
    for tau in _TAUS:
        theta, radius = _minimise(gain, p.use, p.supply, theta, tau * scale, unit, radius)
        best = min(best, (lagrangian(p, theta, out)[0], theta), key=lambda b: b[0])
    return [best[1]], best[0], "smoothed_prices"


def sampled_prices(
    gain: np.ndarray,
    use: np.ndarray,
    supply: np.ndarray,
    share: float,
    population: Callable[[np.ndarray], tuple[float, np.ndarray]],
) -> tuple[np.ndarray, float]:
    """Prices from a sample's gains (rows as in a Problem; limits scaled by its `share`),
    corrected by quasi-Newton steps on the whole population's excess demand; and the lowest L.

    `population(theta)` is L(theta) and the demand on each priced limit over every user: one
    pass over an in-memory Problem, or over the batches of a streamed run
    (serving/decisions/allocation_stream.py), which never holds all users at once.
    """
    scale = float(np.median(gain.max(axis=0)))
    unit = scale / use.max(axis=0, initial=0.0)  # a price move worth a typical best gain
    theta, radius = np.zeros(len(supply)), START_RADIUS
    for tau in _TAUS[:3]:  # a sample's noise exceeds finer smoothing
        theta, radius = _minimise(gain, use, supply * share, theta, tau * scale, unit, radius)
    # quasi-Newton on the population's excess demand, with the sample's smooth curvature
    hess = _smoothed(gain, use, supply * share, theta, _TAUS[0] * scale)[2] / share
    value, demand = population(theta)
    best, excess, radius = (value, theta), supply - demand, 1.0
    for _ in range(REFINE_STEPS):
        theta, length = _trial(best[1], _direction(excess, hess, best[1]), unit, radius)
        value, demand = population(theta)
        if value < best[0]:
            best, excess, radius = (value, theta), supply - demand, max(radius, 2 * length)
        else:
            radius = length / 4
    return best[1], best[0]
