"""Controls spend neither budget nor capacity: the treated arm fills the real limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.decisions.actions import parse_catalogue
from serving.decisions.holdout import ASSIGNMENT, CONTROL, TREATED, HoldoutConfig
from serving.decisions.holdout_plan import decide_with_holdout
from serving.decisions.policy import USER_COLUMNS, decide_run

CUTOFF = pd.Timestamp("2024-06-01")


def _catalogue(capacity: int | None, cost: float = 10.0):
    return parse_catalogue(
        {
            "actions": [
                {"id": "call", "label": "x", "channel": "phone", "stages": ["at_risk"],
                 "tiers": ["high"], "cost": cost, "effect": 0.5, "capacity": capacity},
            ]
        }
    )  # fmt: skip


def _users(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "churn_probability": rng.uniform(0.5, 0.95, n),
            "value_at_stake": rng.lognormal(5, 0.5, n),
            "lifecycle_stage": "at_risk",
            "value_tier": "high",
        }
    )[list(USER_COLUMNS)]


def test_capacity_is_filled_by_treated_users_not_shared_with_controls():
    """Capacity 9, holdout 10%: 10 users are targeted (9 / 0.9), 1 is held out, and exactly 9,
    the capacity, are contacted. An allocation without the widening would contact only 8."""
    decided, summary = decide_with_holdout(
        _users(40), _catalogue(capacity=9), HoldoutConfig(share=0.1, seed=1), CUTOFF
    )
    arms = decided[ASSIGNMENT].value_counts()
    assert arms[TREATED] == 9 and arms[CONTROL] == 1
    assert summary.contacted == 9 and summary.by_action == {"call": 9}
    treated = decided[decided[ASSIGNMENT] == TREATED]
    assert summary.cost == pytest.approx(90.0)
    assert summary.achieved_gain == pytest.approx(treated["expected_gain"].sum())


def test_budget_is_spent_on_treated_users_only():
    """Budget 45 at 10 a contact, holdout 20%: 5 targets (45 / 0.8 = 56.25 allows 5), 1 control,
    4 treated spending 40. Without the widening: 4 targets, 1 control, 3 treated spending 30."""
    decided, summary = decide_with_holdout(
        _users(40), _catalogue(capacity=None), HoldoutConfig(share=0.2, seed=3), CUTOFF,
        budget=45.0,
    )  # fmt: skip
    arms = decided[ASSIGNMENT].value_counts()
    assert arms[TREATED] == 4 and arms[CONTROL] == 1
    assert summary.cost == pytest.approx(40.0)
    plain = decide_run(_users(40), _catalogue(capacity=None), budget=45.0).summary
    assert summary.upper_bound == pytest.approx(plain.upper_bound)


@pytest.mark.parametrize("seed", range(12))
def test_treated_arm_always_fits_the_real_limits(seed):
    rng = np.random.default_rng(seed)
    share = float(rng.choice([0.05, 0.1, 0.25, 0.5]))
    capacity = int(rng.integers(1, 30))
    budget = float(rng.uniform(20, 400))
    catalogue = parse_catalogue(
        {
            "actions": [
                {"id": "call", "label": "x", "channel": "phone", "stages": ["at_risk"],
                 "tiers": ["high"], "cost": 7.0, "effect": 0.5, "capacity": capacity},
                {"id": "mail", "label": "x", "channel": "email", "stages": ["at_risk"],
                 "tiers": ["high"], "cost": 3.0, "effect": 0.2},
            ]
        }
    )  # fmt: skip
    decided, summary = decide_with_holdout(
        _users(200, seed), catalogue, HoldoutConfig(share=share, seed=seed), CUTOFF,
        budget=budget,
    )  # fmt: skip
    treated = decided[decided[ASSIGNMENT] == TREATED]
    assert treated["action_cost"].sum() <= budget + 1e-9
    assert (treated["action"] == "call").sum() <= capacity
    assert summary.cost == pytest.approx(treated["action_cost"].sum())
    assert summary.achieved_gain <= summary.upper_bound + 1e-9
