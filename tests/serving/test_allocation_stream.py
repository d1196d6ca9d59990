"""The streamed allocation (serving/decisions/allocation_stream.py) on synthetic populations.

Known answers: the LP relaxation of the whole population, solved by HiGHS (`lp_bound`), is an
upper bound no allocation can beat; the streamed plan must keep every limit and reach 99% of it
even when the prices come from a sample smaller than a tenth of the users. With no binding
limit, every user's best action (an argmax computed here) is the optimum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.decisions.actions import load_catalogue
from serving.decisions.allocation import lp_bound
from serving.decisions.allocation_stream import StreamedAllocation
from serving.decisions.policy import decide_run, expected_gains
from serving.decisions.segments import STAGES, TIERS


def _users(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [f"u{seed}_{i:07d}" for i in range(n)],
            "churn_probability": rng.random(n),
            "value_at_stake": rng.lognormal(3.0, 1.2, n),
            "lifecycle_stage": rng.choice(STAGES, n),
            "value_tier": rng.choice(TIERS, n),
        }
    )


def _streamed(users: pd.DataFrame, catalogue, budget, folder, batches: int, sample: int):
    parts = np.array_split(np.arange(len(users)), batches)
    allocation = StreamedAllocation(catalogue, budget, folder, sample_users=sample)
    for batch, rows in enumerate(parts):
        allocation.add(batch, users.iloc[rows].reset_index(drop=True), None)
    allocation.solve()
    frames = [
        allocation.decide(batch, users.iloc[rows].reset_index(drop=True), None)
        for batch, rows in enumerate(parts)
    ]
    return pd.concat(frames, ignore_index=True), allocation.summary()


def _gains(users: pd.DataFrame, catalogue) -> tuple[np.ndarray, np.ndarray]:
    """Each user's positive eligible pairs and gains, straight from the policy's formula."""
    eligible, gain = expected_gains(
        catalogue,
        users["churn_probability"].to_numpy(),
        users["value_at_stake"].to_numpy(),
        pd.Index(STAGES).get_indexer(users["lifecycle_stage"]),
        pd.Index(TIERS).get_indexer(users["value_tier"]),
    )
    return eligible & (gain > 0), gain


def _lp(users: pd.DataFrame, catalogue, budget) -> float:
    candidate, gain = _gains(users, catalogue)
    cost = np.array([a.cost for a in catalogue.actions])
    capacity = np.array([np.inf if a.capacity is None else a.capacity for a in catalogue.actions])
    return lp_bound(np.where(candidate, gain, 0.0), candidate, cost, capacity, budget)


@pytest.mark.parametrize("share_of_spend", [0.2, 0.6])
def test_sampled_prices_keep_the_limits_and_reach_99_percent_of_the_lp(tmp_path, share_of_spend):
    users = _users(20_000, seed=1)
    catalogue = load_catalogue()
    free = decide_run(users, catalogue).frame
    budget = round(float(free["action_cost"].sum()) * share_of_spend, 2)
    frame, summary = _streamed(users, catalogue, budget, tmp_path, batches=5, sample=1_500)
    bound = _lp(users, catalogue, budget)
    assert frame["action_cost"].sum() <= budget + 1e-9
    counts = frame["action"].value_counts()
    for action in catalogue.actions:
        if action.capacity is not None:
            assert counts.get(action.id, 0) <= action.capacity
    achieved = frame["expected_gain"].sum()
    assert achieved <= bound + 1e-6
    assert achieved >= 0.99 * bound, (achieved / bound, summary.method)
    assert summary.method == "streamed_prices"
    assert summary.achieved_gain == pytest.approx(achieved)
    assert summary.upper_bound >= bound - 1e-6  # a Lagrangian value: never below the LP
    assert summary.cost == pytest.approx(frame["action_cost"].sum())
    assert summary.contacted == int((frame["action"] != "no_action").sum())


def test_without_limits_every_user_gets_their_best_action(tmp_path):
    users = _users(5_000, seed=2)
    catalogue = load_catalogue()
    actions = [a.model_copy(update={"capacity": None}) for a in catalogue.actions]
    catalogue = catalogue.model_copy(update={"actions": actions})
    frame, summary = _streamed(users, catalogue, None, tmp_path, batches=3, sample=500)
    candidate, gain = _gains(users, catalogue)
    best = np.where(candidate, gain, 0.0).max(axis=1)
    np.testing.assert_allclose(frame["expected_gain"], best)
    assert summary.method == "unconstrained"
    assert summary.upper_bound == pytest.approx(best.sum())
