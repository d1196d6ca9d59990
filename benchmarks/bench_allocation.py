"""Allocation benchmark: `serving.decisions.allocation.allocate` against the two greedy orders it replaces.

One invocation builds a simulated next-best-action instance (users x actions; lognormal values,
churn risk uniform in 0.05-0.95, per-contact costs 0.05 / 0.1 / 0.5 / 2 / 3 / 8 / 25, eligibility
85%, gains net of cost, only positive gains are candidates). Capacities are set to a share of
the unconstrained demand for each action (some left unlimited) and the budget to a share of the
unconstrained spend, so both bind. On that same instance it measures:
  1. `allocate` (prices + allocation + bound): wall-clock seconds, best of --repeats runs, with
     the gain and candidate matrices already in memory (building them is not timed);
  2. greedy by absolute gain: the old policy's rule (its `_allocate`, copied here as
     `_sequential`) over all candidate pairs sorted by gain (ties: lower cost, action, user),
     timed including that sort, one run;
  3. greedy by gain per unit of cost: the same rule over pairs sorted by gain / cost.
Each line gives the total expected gain of the allocation ("achieved": sum of gain over the
chosen pairs), the budget it spends, and its share of `allocate`'s upper bound: no feasible allocation can gain more
than that bound (it is L(lam, mu) at the allocator's prices, >= the LP relaxation), so the
share is a floor on the share of the true optimum each method reaches.

    .venv/bin/python benchmarks/bench_allocation.py --users 1000000 --actions 7

Target (2 cores): 1M users x 7 actions in <= 2 s, at >= 99% of the bound.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import record, verdict

COSTS = np.array([0.05, 0.1, 0.5, 2.0, 3.0, 8.0, 25.0])
EFFECTS = np.array([0.02, 0.03, 0.06, 0.12, 0.15, 0.25, 0.4])
TARGET_S, TARGET_SHARE = 2.0, 0.99


def instance(users: int, actions: int, seed: int, cap_share: float, budget_share: float):
    """gain, candidate (users x actions), cost, capacity, budget; both limits bind."""
    rng = np.random.default_rng(seed)
    pick = np.linspace(0, len(COSTS) - 1, actions).round().astype(int)
    cost = COSTS[pick]
    value, risk = rng.lognormal(3.0, 1.2, users), rng.uniform(0.05, 0.95, users)
    gain = risk[:, None] * (EFFECTS[pick] * rng.uniform(0.5, 1.5, (users, actions)))
    gain *= value[:, None]
    gain -= cost
    candidate = (rng.random((users, actions)) < 0.85) & (gain > 0)
    best = np.argmax(np.where(candidate, gain, -np.inf), axis=1)[candidate.any(axis=1)]
    capacity = np.floor(np.bincount(best, minlength=actions) * cap_share)
    capacity[rng.random(actions) < 0.3] = np.inf
    return gain, candidate, cost, capacity, float(cost[best].sum() * budget_share)


def _sequential(pair_user, pair_action, n_users, cost, capacity, budget) -> np.ndarray:
    """The old policy's rule (`serving/decisions/policy.py` `_allocate` at commit 595b337), vectorised.

    Pairs arrive in priority order; each is taken when its user has no action yet, its action
    has capacity left and its cost fits what is left of the budget. Rounds: every free user
    proposes their first pair whose action is still open; proposals are accepted in priority
    order up to the first refusal, which closes its action. Returns the chosen pair per user.
    """
    n_pairs, n_actions = len(pair_user), len(cost)
    slots = np.full((n_users, n_actions), n_pairs, dtype=np.int64)
    slots[pair_user, pair_action] = np.arange(n_pairs)
    slots.sort(axis=1)
    counts = (slots < n_pairs).sum(axis=1)
    by_user, end = slots[slots < n_pairs], np.cumsum(counts)
    ptr, action_by_user = end - counts, pair_action[slots[slots < n_pairs]]
    remaining, spent = capacity.astype(float), 0.0
    chosen = np.full(n_users, -1, dtype=np.int64)
    closed = (remaining <= 0) | (cost > budget)
    pending = np.flatnonzero(counts > 0)
    while pending.size:
        p, e = ptr[pending], end[pending]
        while True:  # skip pairs whose action has closed
            blocked = p < e
            blocked[blocked] = closed[action_by_user[p[blocked]]]
            if not blocked.any():
                break
            p[blocked] += 1
        ptr[pending] = p
        pending, p = pending[p < e], p[p < e]
        if not pending.size:
            break
        proposals = np.sort(by_user[p])
        acts = pair_action[proposals]
        refused = np.zeros(len(proposals), dtype=bool)
        for action in np.flatnonzero(np.isfinite(remaining)):
            mine = acts == action
            refused[mine] = np.cumsum(mine)[mine] > remaining[action]
        spent_after = np.cumsum(np.concatenate(([spent], cost[acts])))
        refused |= spent_after[1:] > budget
        stop = int(np.argmax(refused)) if refused.any() else len(proposals)
        chosen[pair_user[proposals[:stop]]] = proposals[:stop]
        remaining -= np.bincount(acts[:stop], minlength=n_actions)
        spent = float(spent_after[stop])
        closed |= (remaining <= 0) | (spent + cost > budget)
        pending = pending[chosen[pending] < 0]
    return chosen


def greedy(gain, candidate, cost, capacity, budget, by: str) -> tuple[float, float, float]:
    """The old policy's sequential rule over all candidate pairs in `by` order, timed."""
    started = time.perf_counter()
    n, k = gain.shape
    ranked = np.lexsort((np.arange(k), cost))  # ties: lower cost, then action index
    flat = np.flatnonzero(candidate[:, ranked].T.ravel())  # action-major, users ascending
    pair_action, pair_user = ranked[flat // n], flat % n
    key = gain[pair_user, pair_action]
    if by == "ratio":  # zero-cost pairs first
        key = np.where(cost[pair_action] > 0, key / np.maximum(cost[pair_action], 1e-300), np.inf)
    order = np.argsort(-key, kind="stable")
    pair_user, pair_action = pair_user[order], pair_action[order]
    chosen = _sequential(pair_user, pair_action, n, cost, capacity, budget)
    seconds = time.perf_counter() - started
    taken = chosen[chosen >= 0]
    spent = float(cost[pair_action[taken]].sum())
    assert spent <= budget + 1e-6
    return float(gain[pair_user[taken], pair_action[taken]].sum()), spent, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--actions", type=int, default=7)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--cap-share", type=float, default=0.5, help="of unconstrained demand")
    parser.add_argument("--budget-share", type=float, default=0.4, help="of unconstrained spend")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from serving.decisions.allocation import allocate

    inst = instance(args.users, args.actions, args.seed, args.cap_share, args.budget_share)
    _, candidate, cost, capacity, budget = inst
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = allocate(*inst)
        times.append(time.perf_counter() - started)
    seconds = min(times)
    got = np.flatnonzero(result.choice >= 0)
    spent = cost[result.choice[got]].sum()
    counts = np.bincount(result.choice[got], minlength=len(cost))
    assert spent <= budget + 1e-6 and (counts <= capacity).all()
    print(
        f"instance: {args.users:,} users x {args.actions} actions, "
        f"{int(candidate.sum()):,} candidate pairs, costs {cost.tolist()}\n"
        f"  capacity {capacity.tolist()}, budget {budget:,.1f}; "
        f"allocate spent {spent:,.1f}, contacts per action {counts.tolist()}"
    )
    print(
        f"upper bound on the optimum: {result.upper_bound:,.1f} "
        f"(L at the allocator's prices; budget price {result.duals.budget:.4f})"
    )
    print(f"{'method':<34}{'achieved':>14}{'share of bound':>16}{'spent':>12}{'seconds':>10}")
    print(
        f"{'allocate (' + result.method + ')':<34}{result.achieved:>14,.1f}"
        f"{result.share_of_bound:>16.6f}{spent:>12,.0f}{seconds:>10.2f}   "
        f"(best of {args.repeats}: {', '.join(f'{t:.2f}' for t in times)})"
    )
    for label, by in (("greedy by gain (old policy)", "gain"), ("greedy by gain/cost", "ratio")):
        achieved, used, took = greedy(*inst, by=by)
        share = achieved / result.upper_bound
        print(f"{label:<34}{achieved:>14,.1f}{share:>16.6f}{used:>12,.0f}{took:>10.2f}")
        record(f"allocation share of bound, {label}", achieved / result.upper_bound, "share")
    print(
        f"target: <= {TARGET_S:.0f} s: {verdict(seconds <= TARGET_S)}; "
        f">= {TARGET_SHARE:.0%} of the bound: {verdict(result.share_of_bound >= TARGET_SHARE)}"
    )
    record(
        f"allocate {args.users:,} x {args.actions}", seconds, "s", f"<= {TARGET_S:.0f}",
        seconds <= TARGET_S,
    )  # fmt: skip
    record("allocate share of bound", result.share_of_bound, "share", ">= 0.99",
           result.share_of_bound >= TARGET_SHARE)  # fmt: skip


if __name__ == "__main__":
    main()
