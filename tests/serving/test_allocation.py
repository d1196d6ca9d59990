"""The allocator against answers computed here, independently of `serving.decisions.allocation`.

Known answers come from an exhaustive search over every assignment (small instances), from
an LP relaxation built here with scipy's `linprog` (medium instances), or by hand (the
economics cases, worked in the docstrings). Costs in the exhaustive cases are multiples of 0.5,
so that no budget comparison depends on rounding.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from serving.decisions.allocation import Allocation, Duals, allocate, dual_bound, lp_bound

COSTS = np.array([0.05, 0.1, 0.5, 2.0, 3.0, 8.0, 25.0])
EFFECTS = np.array([0.02, 0.03, 0.06, 0.12, 0.15, 0.25, 0.4])


def _instance(n: int, k: int, seed: int, cap_share: float = 0.5, budget_share: float = 0.4):
    """Lognormal values, risk in [0.05, 0.95], catalogue-like costs; budget and caps bind."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(COSTS), k, replace=False))
    cost, effect = COSTS[pick], EFFECTS[pick] * rng.uniform(0.5, 1.5, (n, k))
    value, risk = rng.lognormal(3.0, 1.2, n), rng.uniform(0.05, 0.95, n)
    gain = risk[:, None] * effect * value[:, None] - cost
    candidate = (rng.random((n, k)) < 0.85) & (gain > 0)
    best = np.argmax(np.where(candidate, gain, -np.inf), axis=1)
    has = candidate.any(axis=1)
    capacity = np.floor(np.bincount(best[has], minlength=k) * cap_share)
    capacity[rng.random(k) < 0.3] = np.inf
    budget = float(cost[best[has]].sum() * budget_share)
    return gain, candidate, cost, capacity, budget


def _exhaustive(gain, candidate, cost, capacity, budget) -> float:
    """The optimum by trying every assignment (action -1: none)."""
    n, k = gain.shape
    combos = np.array(list(itertools.product(range(-1, k), repeat=n)))
    padded_gain = np.hstack([gain, np.zeros((n, 1))])  # column -1: no action
    padded_ok = np.hstack([candidate & (gain > 0), np.ones((n, 1), bool)])
    users = np.arange(n)
    total = padded_gain[users, combos].sum(axis=1)
    ok = padded_ok[users, combos].all(axis=1)
    ok &= np.append(cost, 0.0)[combos].sum(axis=1) <= budget
    for a in range(k):
        ok &= (combos == a).sum(axis=1) <= capacity[a]
    return float(total[ok].max())


def _lp(gain, candidate, cost, capacity, budget) -> float:
    """The LP relaxation, built here: x[u, a] in [0, 1] over candidate pairs with gain > 0."""
    users, actions = np.nonzero(candidate & (gain > 0))
    n, m = gain.shape[0], len(users)
    rows = [sp.csr_matrix((np.ones(m), (users, np.arange(m))), shape=(n, m))]
    bounds = [np.ones(n)]
    for a in np.flatnonzero(np.isfinite(capacity)):
        rows.append(sp.csr_matrix((actions == a).astype(float)[None, :]))
        bounds.append([capacity[a]])
    rows.append(sp.csr_matrix(cost[actions][None, :]))
    bounds.append([budget])
    result = linprog(
        -gain[users, actions],
        A_ub=sp.vstack(rows).tocsr(),
        b_ub=np.concatenate(bounds),
        bounds=(0, 1),
        method="highs",
    )
    assert result.status == 0, result.message
    return -result.fun


def _assert_feasible(result: Allocation, gain, candidate, cost, capacity, budget) -> None:
    """One action or none per user, candidate pairs only, within budget and capacities."""
    choice = result.choice
    assert choice.dtype == np.int64 and choice.shape == (gain.shape[0],)
    assert ((choice >= -1) & (choice < gain.shape[1])).all()
    users = np.flatnonzero(choice >= 0)
    assert candidate[users, choice[users]].all() and (gain[users, choice[users]] > 0).all()
    assert cost[choice[users]].sum() <= budget + 1e-9
    assert (np.bincount(choice[users], minlength=gain.shape[1]) <= capacity).all()
    assert result.achieved == pytest.approx(gain[users, choice[users]].sum(), rel=1e-12)


def _small(seed: int):
    """6 users x 3 actions with costs in halves, a binding budget and tight capacities."""
    rng = np.random.default_rng(seed)
    gain = rng.lognormal(1.0, 1.0, (6, 3)) - 1.0
    candidate = rng.random((6, 3)) < 0.8
    cost = rng.choice([0.5, 1.0, 2.0, 3.0], 3, replace=False)
    capacity = rng.choice([1.0, 2.0, 3.0, np.inf], 3)
    budget = float(rng.choice(np.arange(1.0, 8.0, 0.5)))
    return gain, candidate, cost, capacity, budget


@pytest.mark.parametrize("seed", range(40))
def test_small_instances_match_exhaustive_search(seed):
    inst = _small(seed)
    optimum = _exhaustive(*inst)
    exact = allocate(*inst)
    _assert_feasible(exact, *inst)
    assert exact.method in {"exhaustive", "unconstrained"}
    assert exact.achieved == pytest.approx(optimum, abs=1e-9)
    assert exact.upper_bound >= optimum - 1e-9
    # The price-driven path (no enumeration at all) stays feasible and its bound stays valid.
    priced = allocate(*inst, exact_max_assignments=0)
    _assert_feasible(priced, *inst)
    assert priced.achieved <= optimum + 1e-9 <= priced.upper_bound + 2e-9


@pytest.mark.parametrize("seed", range(10))
def test_dual_bound_holds_for_any_prices(seed):
    inst = _small(seed)
    optimum = _exhaustive(*inst)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        duals = Duals(float(rng.exponential(2.0)), rng.exponential(1.0, 3))
        assert dual_bound(*inst, duals) >= optimum - 1e-9


@pytest.mark.parametrize(
    ("n", "k", "seed", "options"),
    [
        (2000, 3, 1, {}),  # exact LP prices
        (3000, 5, 2, {}),
        (2500, 7, 3, {"lp_max_pairs": 0}),  # smoothed prices on every user
        (6000, 5, 4, {"lp_max_pairs": 0, "sample_users": 1500}),  # sampled prices + refinement
    ],
)
def test_medium_instances_reach_99_percent_of_the_lp(n, k, seed, options):
    inst = _instance(n, k, seed)
    lp = _lp(*inst)
    result = allocate(*inst, **options)
    _assert_feasible(result, *inst)
    assert result.method.endswith("prices")
    assert 0.99 * lp <= result.achieved <= lp + 1e-6
    assert result.upper_bound >= lp * (1 - 1e-9)  # any L(lam, mu) is >= the LP optimum
    assert dual_bound(*inst, result.duals) == pytest.approx(result.upper_bound, rel=1e-12)
    assert result.share_of_bound >= 0.99
    assert result.gap == pytest.approx(1 - result.share_of_bound)


def test_lp_bound_helper_matches_an_independent_lp():
    inst = _instance(1500, 4, 5)
    assert lp_bound(*inst) == pytest.approx(_lp(*inst), rel=1e-9)


def test_eight_cheap_contacts_beat_one_vip_call():
    """Budget 25. User 8 can get a VIP call (cost 25, gain 30); users 0-7 a mail (cost 3, gain
    10 each). Serving the biggest gain first spends the whole budget on the call: 30. The eight
    mails cost 24 and gain 80 > 30, and nothing fits beside them, so 80 is optimal. LP bound:
    the mails earn 10/3 per unit of budget, the call 30/25 = 1.2, so the LP adds 1/25 of the call
    to the mails: 80 + 1.2 = 81.2, with a budget price of 1.2 (the call is the marginal use)."""
    gain = np.zeros((9, 2))
    gain[:8, 0], gain[8, 1] = 10.0, 30.0
    candidate = gain > 0
    cost, capacity = np.array([3.0, 25.0]), np.array([np.inf, np.inf])
    for options in ({}, {"exact_max_assignments": 0}):
        result = allocate(gain, candidate, cost, capacity, 25.0, **options)
        assert result.choice.tolist() == [0] * 8 + [-1]
        assert result.achieved == pytest.approx(80.0)
        assert result.upper_bound == pytest.approx(81.2)
        assert result.duals.budget == pytest.approx(1.2)
        assert result.share_of_bound == pytest.approx(80 / 81.2)


def _ratio_greedy(gain, candidate, cost, capacity, budget) -> float:
    """Pairs by gain per unit of cost, each taken if its user is free and it still fits."""
    pairs = sorted(
        zip(*np.nonzero(candidate & (gain > 0)), strict=True), key=lambda p: -gain[p] / cost[p[1]]
    )
    free, left, total = set(range(gain.shape[0])), capacity.copy(), 0.0
    for user, action in pairs:
        if user in free and left[action] >= 1 and cost[action] <= budget:
            free.discard(user)
            left[action] -= 1
            budget -= cost[action]
            total += gain[user, action]
    return total


def test_ratio_order_is_not_optimal_with_several_actions_per_user():
    """Budget 10. User 0: mail (cost 1, gain 5, ratio 5) or call (cost 10, gain 20, ratio 2);
    user 1: mail (cost 1, gain 1). The ratio order gives user 0 the mail and user 1 the mail:
    6. The optimum calls user 0 (20; the two mails would not fit beside it)."""
    gain = np.array([[5.0, 20.0], [1.0, 0.0]])
    inst = (gain, gain > 0, np.array([1.0, 10.0]), np.array([np.inf, np.inf]), 10.0)
    assert _ratio_greedy(*inst) == pytest.approx(6.0)
    assert _exhaustive(*inst) == pytest.approx(20.0)
    for options in ({}, {"exact_max_assignments": 0}):
        result = allocate(*inst, **options)
        assert result.choice.tolist() == [1, -1]
        assert result.achieved == pytest.approx(20.0)


def test_without_binding_limits_every_user_gets_their_best_action():
    rng = np.random.default_rng(7)
    gain = rng.normal(1.0, 2.0, (500, 4))
    candidate = rng.random((500, 4)) < 0.7
    cost = np.array([0.1, 1.0, 2.0, 5.0])
    masked = np.where(candidate & (gain > 0), gain, -np.inf)
    expected = np.where(masked.max(axis=1) > -np.inf, masked.argmax(axis=1), -1)
    total = masked.max(axis=1)[expected >= 0].sum()
    for capacity, budget in ((None, np.inf), (np.full(4, 500.0), 1e6)):
        result = allocate(gain, candidate, cost, capacity, budget)
        assert result.method == "unconstrained"
        assert np.array_equal(result.choice, expected)
        assert result.achieved == pytest.approx(total) and result.upper_bound == result.achieved
        assert result.share_of_bound == 1.0


def test_same_input_same_allocation():
    inst = _instance(6000, 5, 8)
    first = allocate(*inst, lp_max_pairs=0, sample_users=1500, seed=3)
    again = allocate(*inst, lp_max_pairs=0, sample_users=1500, seed=3)
    assert np.array_equal(first.choice, again.choice) and first.upper_bound == again.upper_bound


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gain": np.array([[np.nan, 1.0]])}, "not finite"),
        ({"cost": np.array([-1.0, 1.0])}, "cost"),
        ({"capacity": np.array([-1.0, 1.0])}, "capacity"),
        ({"budget": -1.0}, "budget"),
        ({"candidate": np.ones((2, 2), bool)}, "shape"),
    ],
)
def test_bad_inputs_are_refused(change, message):
    args = {
        "gain": np.array([[1.0, 2.0]]),
        "candidate": np.ones((1, 2), bool),
        "cost": np.array([1.0, 1.0]),
        "capacity": np.array([1.0, 1.0]),
        "budget": 1.0,
    } | change
    with pytest.raises(ValueError, match=message):
        allocate(**args)
