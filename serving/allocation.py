"""Next-best-action allocation as a multiple-choice knapsack, reported next to a proven bound.

Why not a greedy on gains or on gain per cost: with one action per user, a capacity per action
and a shared budget, serving the biggest gains first spends the budget on a few dear contacts
(one 25-cost VIP call worth 30 instead of eight 3-cost mails worth 80), and the ratio order
gives each user their cheapest worthwhile action even when a dearer one adds more per extra
unit of budget. The exact problem is NP-hard, but its LP relaxation is nearly integral (a basic
optimum has at most one fractional user per binding limit), so we solve for the limits' prices
and let them steer the allocation; each run reports what it achieved next to an upper bound on
the optimum, so "how good is this plan" is a number, not a belief.

n users, k actions; gains are net of cost and only positive candidate pairs count.
1. Nothing binds: every user takes their best action (exact; bound = achieved).
2. Prices. For any budget price lam >= 0 and capacity prices mu >= 0,
     L(lam, mu) = sum_u max(0, max_a g[u,a] - lam c[a] - mu[a]) + lam B + sum_a mu[a] cap[a]
   bounds the optimum (relax the limits, pay for them), and min L is the LP relaxation.
   Up to `lp_max_pairs` pairs: the LP's duals (HiGHS), and lightly smoothed prices next to
   them (step 3 runs with both; the better allocation is kept). Above: projected Newton with
   a trust region on an entropy-smoothed L (k + 1 <= 8 variables: each step is a tiny linear
   solve) as the smoothing shrinks; above `sample_users` users on a seeded sample stratified
   by best action (limits scaled by its share), then quasi-Newton steps on the whole
   population's excess demand. `upper_bound` is the lowest L evaluated on the whole
   population, and `duals` its prices: valid whatever the prices, tight at the LP's duals.
3. Allocation. Pairs with a positive reduced gain g - lam c - mu are served in descending
   reduced gain while the user is free, the action has room and the cost fits; leftovers are
   filled (zero-cost actions by gain, then the others by gain per unit of cost). Then the few
   users nearest to changing their mind (the LP's fractional ones) are re-assigned by trying
   every combination. Instances with <= `exact_max_assignments` assignments are enumerated.
Serving ties go to the lower cost, then the lower action index, then the lower user index; the
sample is seeded, so the same input always gives the same allocation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

EXACT_MAX_ASSIGNMENTS = 1 << 16  # enumerate when there are at most this many assignments
LP_MAX_PAIRS = 10_000  # exact LP prices (HiGHS, <~0.3 s) up to this many candidate pairs
SAMPLE_USERS = 10_000  # smoothed prices from a sample above this many users
START_RADIUS = 100.0  # first trust region, in typical best gains per price
REFINE_STEPS = 5  # whole-population price corrections after the sample
_TAUS = (0.1, 0.02, 0.004, 0.0008, 0.00016)  # smoothing, as shares of the median best gain


@dataclass(frozen=True)
class Duals:
    """Shadow prices: of one unit of budget, and of one more contact of each action."""

    budget: float
    capacity: np.ndarray  # (k,); 0 where the capacity is unlimited or cannot bind


@dataclass(frozen=True)
class Allocation:
    """The action chosen per user (-1: none), its total gain and a bound on the optimum."""

    choice: np.ndarray  # (n,) int64 action index, -1 for no action
    achieved: float  # total gain of `choice`
    upper_bound: float  # no feasible allocation gains more (LP relaxation or L at `duals`)
    duals: Duals
    method: str  # unconstrained, exhaustive (both exact); lp_, smoothed_ or sampled_prices

    @property
    def share_of_bound(self) -> float:
        """achieved / upper_bound: a floor on the share of the true optimum reached."""
        return 1.0 if self.upper_bound <= 0 else self.achieved / self.upper_bound

    @property
    def gap(self) -> float:
        """1 - share_of_bound: the most (relative) gain any other allocation could add."""
        return 1.0 - self.share_of_bound


@dataclass(frozen=True)
class _Problem:
    """Inputs with actions as rows in priority order (cost, then index): gains are (k, n)."""

    gain: np.ndarray  # (k, n); -inf where the pair is not a candidate or gains nothing
    cost: np.ndarray  # (k,)
    capacity: np.ndarray  # (k,) whole contacts; inf = unlimited
    budget: float
    action: np.ndarray  # (k,) original action index of each row
    use: np.ndarray  # (k, d) what one contact uses of each priced limit
    supply: np.ndarray  # (d,) the priced limits
    priced: np.ndarray  # (d,) -1 for the budget, else the row whose capacity it is


def _prepare(
    gain: np.ndarray,
    candidate: np.ndarray,
    cost: np.ndarray,
    capacity: np.ndarray | None,
    budget: float,
) -> _Problem:
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
    # A limit that no allocation can reach never binds: leave it out (price 0).
    reach = np.count_nonzero(rows.max(axis=0, initial=-np.inf) > 0) * cost.max(initial=0)
    priced = ([-1] if budget < reach else []) + [
        int(r) for r in np.flatnonzero(cap < np.isfinite(rows).sum(axis=1))
    ]
    use = np.zeros((k, len(priced)))
    for j, r in enumerate(priced):
        use[:, j] = cost if r < 0 else np.arange(k) == r
    supply = np.array([budget if r < 0 else cap[r] for r in priced], dtype=float)
    return _Problem(rows, cost, cap, float(budget), order, use, supply, np.array(priced, int))


def _argmax(
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


def _lagrangian(p: _Problem, theta: np.ndarray, out: np.ndarray) -> tuple[float, np.ndarray]:
    """L(theta) on the whole population and its demand on each priced limit.

    Leaves the reduced gains g - lam c - mu in `out` (reused: no fresh (k, n) array per call).
    """
    np.subtract(p.gain, (p.use @ theta)[:, None], out=out)
    top = out.max(axis=0, initial=0.0)
    takers = np.array([np.count_nonzero((row == top) & (top > 0)) for row in out])
    return float(top.sum() + theta @ p.supply), p.use.T @ takers


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


def _prices(
    p: _Problem, best_row: np.ndarray, lp_max_pairs: int, sample_users: int, seed: int
) -> tuple[list[np.ndarray], float, str]:
    """Candidate prices (lowest whole-population L first), that lowest L, and how."""
    out, active = np.empty_like(p.gain), np.flatnonzero(best_row >= 0)
    sampled = len(active) > sample_users
    users = _sample(best_row, sample_users, seed) if sampled else active
    gain, share = p.gain[:, users], len(users) / len(active)
    scale = float(np.median(gain.max(axis=0)))
    unit = scale / p.use.max(axis=0, initial=0.0)  # a price move worth a typical best gain
    solved = _lp(p) if np.count_nonzero(np.isfinite(p.gain)) <= lp_max_pairs else None
    if solved is not None:
        # Exact duals leave many users exactly indifferent; lightly smoothed ones near them
        # often steer the allocation better, so both are tried.
        theta = solved[1]
        near = _minimise(gain, p.use, p.supply * share, theta, _TAUS[-1] * scale, unit)[0]
        tried = sorted((_lagrangian(p, t, out)[0], i, t) for i, t in enumerate((theta, near)))
        return [t for *_, t in tried], tried[0][0], "lp_prices"
    theta, radius = np.zeros(len(p.supply)), START_RADIUS
    best = (np.inf, theta)
    for tau in _TAUS[:3] if sampled else _TAUS:  # a sample's noise exceeds finer smoothing
        theta, radius = _minimise(gain, p.use, p.supply * share, theta, tau * scale, unit, radius)
        if not sampled:
            best = min(best, (_lagrangian(p, theta, out)[0], theta), key=lambda b: b[0])
    if sampled:  # quasi-Newton on the population's excess demand, smooth sample curvature
        hess = _smoothed(gain, p.use, p.supply * share, theta, _TAUS[0] * scale)[2] / share
        value, demand = _lagrangian(p, theta, out)
        best, excess, radius = (value, theta), p.supply - demand, 1.0
        for _ in range(REFINE_STEPS):
            theta, length = _trial(best[1], _direction(excess, hess, best[1]), unit, radius)
            value, demand = _lagrangian(p, theta, out)
            if value < best[0]:
                best, excess, radius = (value, theta), p.supply - demand, max(radius, 2 * length)
            else:
                radius = length / 4
    return [best[1]], best[0], "sampled_prices" if sampled else "smoothed_prices"


def _greedy(
    p: _Problem,
    key: Callable[[int, np.ndarray], np.ndarray],
    ranks: list[int] | range,
    users: np.ndarray,
    choice: np.ndarray,
    left: np.ndarray,
    budget: float,
) -> float:
    """Serve `users`' pairs in descending `key(row, users)` (-inf: not offered) while they fit.

    Rounds: each free user proposes their best open pair; proposals are accepted in priority
    order up to the first refused one, whose action that refusal closes (full, or dearer than
    the budget left), so there are at most k + 1 rounds. Updates `choice` and `left` (capacity
    left per row) in place; returns the budget left.
    """
    pending = users[choice[users] < 0]
    while pending.size:
        open_ = [r for r in ranks if left[r] >= 1 and p.cost[r] <= budget]
        best, row = _argmax(lambda r, users=pending: key(r, users), open_, len(pending))
        live = best > -np.inf
        pending, best, row = pending[live], best[live], row[live]
        if not pending.size:
            break
        order = np.argsort(-best)
        if (best[order[1:]] == best[order[:-1]]).any():  # ties: lower cost, row, then user
            order = np.lexsort((pending, row, -best))
        acts = row[order]
        spent = np.cumsum(p.cost[acts])
        refused = spent > budget
        for r in np.flatnonzero(np.isfinite(left)):
            mine = acts == r
            refused[mine] |= np.cumsum(mine)[mine] > left[r]
        stop = int(np.argmax(refused)) if refused.any() else len(order)
        choice[pending[order[:stop]]] = acts[:stop]
        left -= np.bincount(acts[:stop], minlength=len(left))
        budget -= float(spent[stop - 1]) if stop else 0.0
        pending = pending[choice[pending] < 0]
    return budget


def _allocate_by_prices(p: _Problem, reduced: np.ndarray) -> np.ndarray:
    """Step 3 of the module docstring (before the re-assignment); the row per user, -1: none."""

    def positive(r: int, users: np.ndarray) -> np.ndarray:
        value = reduced[r, users]
        return np.where(value > 0, value, -np.inf)

    choice = np.full(p.gain.shape[1], -1, dtype=np.int64)
    left, ranks = p.capacity.copy(), range(len(p.cost))
    users = np.flatnonzero(reduced.max(axis=0) > 0)
    budget = _greedy(p, positive, ranks, users, choice, left, p.budget)
    users = np.flatnonzero((choice < 0) & (p.gain.max(axis=0) > -np.inf))
    free, paid = [r for r in ranks if p.cost[r] == 0], [r for r in ranks if p.cost[r] > 0]
    budget = _greedy(p, lambda r, u: p.gain[r, u], free, users, choice, left, budget)
    _greedy(p, lambda r, u: p.gain[r, u] / p.cost[r], paid, users, choice, left, budget)
    return choice


def _exhaustive(p: _Problem, limit: int) -> np.ndarray | None:
    """The optimum by trying every assignment, if there are at most `limit` of them."""
    users = np.flatnonzero(np.isfinite(p.gain).any(axis=0))
    if len(users) > np.log2(max(limit, 1)):  # each has two options at least
        return None
    options = [np.append(-1, np.flatnonzero(np.isfinite(p.gain[:, u]))) for u in users]
    size = int(np.prod([len(o) for o in options]))
    if size > limit:
        return None
    combos, stride = np.arange(size), 1
    rows = np.empty((len(users), size), dtype=np.int64)
    total, spent, counts = np.zeros(size), np.zeros(size), np.zeros((len(p.cost) + 1, size))
    for i, (user, option) in enumerate(zip(users, options, strict=True)):
        rows[i] = option[combos // stride % len(option)]  # row -1 picks the appended 0s
        stride *= len(option)
        total += np.append(p.gain[:, user], 0.0)[rows[i]]
        spent += np.append(p.cost, 0.0)[rows[i]]
        np.add.at(counts, (rows[i], combos), 1)
    fits = (spent <= p.budget) & (counts[:-1] <= p.capacity[:, None]).all(axis=0)
    choice = np.full(p.gain.shape[1], -1, dtype=np.int64)
    choice[users] = rows[:, np.argmax(np.where(fits, total, -np.inf))]
    return choice


def _polish(p: _Problem, reduced: np.ndarray, choice: np.ndarray, limit: int) -> None:
    """Re-assign the users nearest to changing their mind optimally, the others held fixed.

    Nearness: best minus second-best reduced gain, no action counting as 0; as many users as
    `_exhaustive` can try within `limit`. Kept only if it gains more. Updates `choice`.
    """
    first, second = np.zeros(reduced.shape[1]), np.full(reduced.shape[1], -np.inf)
    for row in reduced:
        second = np.maximum(second, np.minimum(row, first))
        first = np.maximum(first, row)
    margin = first - second
    near = np.argpartition(margin, min(16, len(margin) - 1))[:16]
    near = near[np.lexsort((near, margin[near]))]
    near = near[np.isfinite(margin[near])]
    sizes = 1 + np.isfinite(p.gain[:, near]).sum(axis=0)
    core = near[: int(np.searchsorted(np.cumprod(sizes), limit, side="right"))]
    rest = np.delete(choice, core)
    taken = rest[rest >= 0]
    left = p.capacity - np.bincount(taken, minlength=len(p.cost))
    sub = replace(p, gain=p.gain[:, core], capacity=left, budget=p.budget - p.cost[taken].sum())
    best = _exhaustive(sub, limit)
    gain = np.vstack([p.gain[:, core], np.zeros(len(core))])  # row -1: no action
    if best is not None:
        new, old = (gain[rows, np.arange(len(core))].sum() for rows in (best, choice[core]))
        choice[core] = best if new > old else choice[core]


def _outcome(
    p: _Problem, choice: np.ndarray, theta: np.ndarray, bound: float, method: str
) -> Allocation:
    """The public result: rows back to action indices, prices back to one per action."""
    got = np.flatnonzero(choice >= 0)
    mu = np.zeros(len(p.cost))
    mu[p.action[p.priced[p.priced >= 0]]] = theta[p.priced >= 0]
    lam = float(theta[p.priced < 0][0]) if (p.priced < 0).any() else 0.0
    achieved = float(p.gain[choice[got], got].sum())
    original = np.full(len(choice), -1, dtype=np.int64)
    original[got] = p.action[choice[got]]
    return Allocation(original, achieved, max(bound, achieved), Duals(lam, mu), method)


def allocate(
    gain: np.ndarray,
    candidate: np.ndarray,
    cost: np.ndarray,
    capacity: np.ndarray | None = None,
    budget: float = np.inf,
    *,
    seed: int = 0,
    exact_max_assignments: int = EXACT_MAX_ASSIGNMENTS,
    lp_max_pairs: int = LP_MAX_PAIRS,
    sample_users: int = SAMPLE_USERS,
) -> Allocation:
    """At most one action per user, maximising the summed gain within capacity and budget.

    `gain` (n x k): expected gain net of cost; `candidate` (n x k): pairs allowed (only those
    with gain > 0 are ever chosen); `cost` (k,) >= 0; `capacity` (k,) contacts per action
    (np.inf or None: unlimited); `budget`: cap on the summed cost (np.inf: none). The keyword
    thresholds pick the method (module docstring); `seed` draws the sample of big inputs.
    """
    p = _prepare(gain, candidate, cost, capacity, budget)
    top, row = _argmax(lambda r: p.gain[r], range(len(p.cost)), p.gain.shape[1])
    got = np.flatnonzero(row >= 0)
    fits = (np.bincount(row[got], minlength=len(p.cost)) <= p.capacity).all()
    if fits and p.cost[row[got]].sum() <= p.budget:
        return _outcome(p, row, np.zeros(len(p.supply)), float(top[got].sum()), "unconstrained")
    thetas, bound, method = _prices(p, row, lp_max_pairs, sample_users, seed)
    choice = _exhaustive(p, exact_max_assignments)
    if choice is not None:
        return _outcome(p, choice, thetas[0], bound, "exhaustive")
    reduced, best = np.empty_like(p.gain), (-np.inf, None)
    for theta in thetas:
        _lagrangian(p, theta, reduced)
        choice = _allocate_by_prices(p, reduced)
        _polish(p, reduced, choice, exact_max_assignments)
        got = np.flatnonzero(choice >= 0)
        best = max(best, (p.gain[choice[got], got].sum(), choice), key=lambda b: b[0])
    return _outcome(p, best[1], thetas[0], bound, method)


def dual_bound(
    gain: np.ndarray,
    candidate: np.ndarray,
    cost: np.ndarray,
    capacity: np.ndarray | None,
    budget: float,
    duals: Duals,
) -> float:
    """L(lam, mu) of the module docstring: an upper bound on the optimum for any prices >= 0."""
    p = _prepare(gain, candidate, cost, capacity, budget)
    lam, mu = max(duals.budget, 0.0), np.maximum(np.asarray(duals.capacity, float), 0.0)[p.action]
    top = (p.gain - (lam * p.cost + mu)[:, None]).max(axis=0, initial=0.0)
    priced = (lam * p.budget if lam > 0 else 0.0) + (mu * np.where(mu > 0, p.capacity, 0)).sum()
    return float(top.sum() + priced)


def _pairs(p: _Problem) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray]:
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
    matrix = sp.csr_matrix((np.concatenate(v), at), shape=(len(upper), m))
    return row, user, matrix, upper, np.where(p.priced < 0, len(upper) - 1, line[p.priced])


def _lp(p: _Problem) -> tuple[float, np.ndarray] | None:
    """The LP relaxation by HiGHS: its optimum and the priced limits' duals (None: unsolved)."""
    row, user, matrix, upper, lines = _pairs(p)
    if not len(row):
        return 0.0, np.zeros(len(p.priced))
    result = linprog(-p.gain[row, user], A_ub=matrix, b_ub=upper, bounds=(0, 1), method="highs")
    if result.status != 0:
        return None
    return float(-result.fun), np.maximum(-result.ineqlin.marginals[lines], 0.0)


def lp_bound(
    gain: np.ndarray,
    candidate: np.ndarray,
    cost: np.ndarray,
    capacity: np.ndarray | None = None,
    budget: float = np.inf,
) -> float:
    """The LP relaxation's optimum (HiGHS, modest sizes): the tightest bound of this kind."""
    solved = _lp(_prepare(gain, candidate, cost, capacity, budget))
    if solved is None:
        raise RuntimeError("HiGHS did not solve the LP relaxation")
    return solved[0]
