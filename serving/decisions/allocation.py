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

from serving.decisions.allocation_prices import solve_prices
from serving.decisions.allocation_problem import (
    Problem,
    best_rows,
    lagrangian,
    lp_solution,
    prepare,
)

EXACT_MAX_ASSIGNMENTS = 1 << 16  # enumerate when there are at most this many assignments
LP_MAX_PAIRS = 10_000  # exact LP prices (HiGHS, <~0.3 s) up to this many candidate pairs
SAMPLE_USERS = 10_000  # smoothed prices from a sample above this many users


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


def _greedy(
    p: Problem,
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
        best, row = best_rows(lambda r, users=pending: key(r, users), open_, len(pending))
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


def _serve_positive(
    p: Problem, reduced: np.ndarray, choice: np.ndarray, left: np.ndarray, budget: float
) -> float:
    """Serve pairs with a positive reduced gain, best first, within `left` and `budget`."""

    def positive(r: int, users: np.ndarray) -> np.ndarray:
        value = reduced[r, users]
        return np.where(value > 0, value, -np.inf)

    users = np.flatnonzero(reduced.max(axis=0) > 0)
    return _greedy(p, positive, range(len(p.cost)), users, choice, left, budget)


def _allocate_by_prices(p: Problem, reduced: np.ndarray) -> np.ndarray:
    """Step 3 of the module docstring (before the re-assignment); the row per user, -1: none."""
    choice = np.full(p.gain.shape[1], -1, dtype=np.int64)
    left, ranks = p.capacity.copy(), range(len(p.cost))
    budget = _serve_positive(p, reduced, choice, left, p.budget)
    users = np.flatnonzero((choice < 0) & (p.gain.max(axis=0) > -np.inf))
    free, paid = [r for r in ranks if p.cost[r] == 0], [r for r in ranks if p.cost[r] > 0]
    budget = _greedy(p, lambda r, u: p.gain[r, u], free, users, choice, left, budget)
    _greedy(p, lambda r, u: p.gain[r, u] / p.cost[r], paid, users, choice, left, budget)
    return choice


def _exhaustive(p: Problem, limit: int) -> np.ndarray | None:
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


def _polish(p: Problem, reduced: np.ndarray, choice: np.ndarray, limit: int) -> None:
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
    p: Problem, choice: np.ndarray, theta: np.ndarray, bound: float, method: str
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
    p = prepare(gain, candidate, cost, capacity, budget)
    top, row = best_rows(lambda r: p.gain[r], range(len(p.cost)), p.gain.shape[1])
    got = np.flatnonzero(row >= 0)
    fits = (np.bincount(row[got], minlength=len(p.cost)) <= p.capacity).all()
    if fits and p.cost[row[got]].sum() <= p.budget:
        return _outcome(p, row, np.zeros(len(p.supply)), float(top[got].sum()), "unconstrained")
    thetas, bound, method = solve_prices(p, row, lp_max_pairs, sample_users, seed)
    choice = _exhaustive(p, exact_max_assignments)
    if choice is not None:
        return _outcome(p, choice, thetas[0], bound, "exhaustive")
    reduced, best = np.empty_like(p.gain), (-np.inf, None)
    for theta in thetas:
        lagrangian(p, theta, reduced)
        choice = _allocate_by_prices(p, reduced)
        _polish(p, reduced, choice, exact_max_assignments)
        got = np.flatnonzero(choice >= 0)
        best = max(best, (p.gain[choice[got], got].sum(), choice), key=lambda b: b[0])
    return _outcome(p, best[1], thetas[0], bound, method)


def allocate_at_prices(
    p: Problem, theta: np.ndarray, left: np.ndarray, budget: float
) -> tuple[np.ndarray, float]:
    """One batch of a streamed run at fixed prices: each user's action index (-1: none) and the
    budget left.

    Why only step 3's first stage: the prices were solved once for the whole population, so a
    pair with a positive reduced gain is worth serving wherever its user falls; filling the
    leftovers batch by batch would hand them to whichever batch comes first. `left` (capacity
    left per row of `p`, whole population) is updated in place: it and `budget` are the guard
    that keeps every limit whatever the prices.
    """
    reduced = np.empty_like(p.gain)
    lagrangian(p, theta, reduced)
    choice = np.full(p.gain.shape[1], -1, dtype=np.int64)
    budget = _serve_positive(p, reduced, choice, left, budget)
    original = np.full(len(choice), -1, dtype=np.int64)
    original[choice >= 0] = p.action[choice[choice >= 0]]
    return original, budget


def dual_bound(
    gain: np.ndarray,
    candidate: np.ndarray,
    cost: np.ndarray,
    capacity: np.ndarray | None,
    budget: float,
    duals: Duals,
) -> float:
    """L(lam, mu) of the module docstring: an upper bound on the optimum for any prices >= 0."""
    p = prepare(gain, candidate, cost, capacity, budget)
    lam, mu = max(duals.budget, 0.0), np.maximum(np.asarray(duals.capacity, float), 0.0)[p.action]
    top = (p.gain - (lam * p.cost + mu)[:, None]).max(axis=0, initial=0.0)
    priced = (lam * p.budget if lam > 0 else 0.0) + (mu * np.where(mu > 0, p.capacity, 0)).sum()
    return float(top.sum() + priced)


def lp_bound(
    gain: np.ndarray,
    candidate: np.ndarray,
    cost: np.ndarray,
    capacity: np.ndarray | None = None,
    budget: float = np.inf,
) -> float:
    """The LP relaxation's optimum (HiGHS, modest sizes): the tightest bound of this kind."""
    solved = lp_solution(prepare(gain, candidate, cost, capacity, budget))
    if solved is None:
        raise RuntimeError("HiGHS did not solve the LP relaxation")
    return solved[0]
