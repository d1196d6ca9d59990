"""Decision policy on hand-made users with answers computed by hand, plus a reference greedy.

The reference (`_reference_decide`) is the module docstring's sequential rule written as a
plain loop; a randomised test checks that the vectorised `decide` gives the same decisions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.actions import NO_ACTION, ActionCatalogue, load_catalogue, parse_catalogue
from serving.policy import DECISION_REASONS, USER_COLUMNS, decide
from serving.segments import STAGES, TIERS

COLUMNS = ["user_id", "action", "expected_gain", "action_cost", "decision_reason"]


def _catalogue(*actions: dict) -> ActionCatalogue:
    base = {"label": "x", "channel": "email", "stages": ["at_risk"], "tiers": ["high"]}
    return parse_catalogue({"actions": [base | action for action in actions]})


def _users(*rows: tuple) -> pd.DataFrame:
    """Rows of (user_id, churn_probability, predicted_value, stage, tier)."""
    return pd.DataFrame(rows, columns=list(USER_COLUMNS))


def _by_user(result: pd.DataFrame) -> dict[str, tuple[str, float, float, str]]:
    return {
        row.user_id: (row.action, row.expected_gain, row.action_cost, row.decision_reason)
        for row in result.itertuples()
    }


def test_best_gain_uses_segment_effect_and_cost():
    catalogue = _catalogue(
        {
            "id": "call",
            "cost": 10.0,
            "effect": {"default": 0.2, "by_segment": {"at_risk/high": 0.5}},
        },
        {"id": "mail", "cost": 1.0, "effect": 0.1},
    )
    result = decide(_users(("u1", 0.6, 100.0, "at_risk", "high")), catalogue)
    # call: 0.6 * 0.5 * 100 - 10 = 20; mail: 0.6 * 0.1 * 100 - 1 = 5.
    assert _by_user(result) == {"u1": ("call", 0.6 * 0.5 * 100.0 - 10.0, 10.0, "best_gain")}
    assert list(result.columns) == COLUMNS


def test_eligibility_by_stage_tier_and_inclusive_risk_range():
    catalogue = _catalogue(
        {"id": "care", "cost": 1.0, "effect": 0.5, "min_risk": 0.4, "max_risk": 0.8}
    )
    users = _users(
        ("in_low_edge", 0.4, 100.0, "at_risk", "high"),
        ("in_high_edge", 0.8, 100.0, "at_risk", "high"),
        ("below", 0.39, 100.0, "at_risk", "high"),
        ("above", 0.81, 100.0, "at_risk", "high"),
        ("wrong_stage", 0.6, 100.0, "active", "high"),
        ("wrong_tier", 0.6, 100.0, "at_risk", "mid"),
    )
    result = _by_user(decide(users, catalogue))
    assert result["in_low_edge"] == ("care", 0.4 * 0.5 * 100.0 - 1.0, 1.0, "best_gain")
    assert result["in_high_edge"] == ("care", 0.8 * 0.5 * 100.0 - 1.0, 1.0, "best_gain")
    for user in ("below", "above", "wrong_stage", "wrong_tier"):
        assert result[user] == (NO_ACTION, 0.0, 0.0, "no_eligible_action")


def test_no_action_when_cost_exceeds_value():
    catalogue = _catalogue({"id": "call", "cost": 5.0, "effect": 0.5})
    users = _users(
        ("poor", 0.9, 10.0, "at_risk", "high"),  # 0.9 * 0.5 * 10 - 5 = -0.5
        ("break_even", 0.5, 20.0, "at_risk", "high"),  # 0.5 * 0.5 * 20 - 5 = 0: not worth it
        ("worth_it", 0.5, 21.0, "at_risk", "high"),  # 0.25 * 21 - 5 = 0.25
        ("unscored", np.nan, 21.0, "at_risk", "high"),
    )
    result = _by_user(decide(users, catalogue))
    assert result["poor"] == (NO_ACTION, 0.0, 0.0, "no_action_not_worth_cost")
    assert result["break_even"] == (NO_ACTION, 0.0, 0.0, "no_action_not_worth_cost")
    assert result["worth_it"] == ("call", 0.5 * 0.5 * 21.0 - 5.0, 5.0, "best_gain")
    assert result["unscored"] == (NO_ACTION, 0.0, 0.0, "missing_scores")


def test_capacity_goes_to_the_highest_gains_and_the_rest_fall_back():
    catalogue = _catalogue(
        {"id": "vip", "cost": 10.0, "effect": 0.5, "capacity": 2},
        {"id": "mail", "cost": 1.0, "effect": 0.1, "tiers": ["high", "mid"]},
    )
    users = _users(
        ("a", 0.5, 100.0, "at_risk", "high"),  # vip 15, mail 4
        ("b", 0.9, 100.0, "at_risk", "high"),  # vip 35, mail 8
        ("c", 0.7, 100.0, "at_risk", "high"),  # vip 25, mail 6
        ("d", 0.6, 100.0, "at_risk", "mid"),  # mail only: 5
    )
    result = _by_user(decide(users, catalogue))
    assert result["b"] == ("vip", 0.9 * 0.5 * 100 - 10, 10.0, "best_gain")
    assert result["c"] == ("vip", 0.7 * 0.5 * 100 - 10, 10.0, "best_gain")
    assert result["a"] == ("mail", 0.5 * 0.1 * 100 - 1, 1.0, "capacity_reached")
    assert result["d"] == ("mail", 0.6 * 0.1 * 100 - 1, 1.0, "best_gain")


def test_capacity_without_fallback_leaves_user_alone():
    catalogue = _catalogue({"id": "vip", "cost": 10.0, "effect": 0.5, "capacity": 1})
    users = _users(("a", 0.5, 100.0, "at_risk", "high"), ("b", 0.6, 100.0, "at_risk", "high"))
    result = _by_user(decide(users, catalogue))
    assert result["b"][0] == "vip"
    assert result["a"] == (NO_ACTION, 0.0, 0.0, "capacity_reached")
    zero = _catalogue({"id": "vip", "cost": 10.0, "effect": 0.5, "capacity": 0})
    assert set(decide(users, zero)["decision_reason"]) == {"capacity_reached"}


def test_budget_is_spent_on_the_highest_gains_first():
    catalogue = _catalogue(
        {"id": "call", "cost": 10.0, "effect": 0.5},
        {"id": "mail", "cost": 2.0, "effect": 0.1},
        {"id": "push", "cost": 0.0, "effect": 0.01},
    )
    users = _users(
        ("a", 0.9, 100.0, "at_risk", "high"),  # call 35
        ("b", 0.8, 100.0, "at_risk", "high"),  # call 30
        ("c", 0.7, 100.0, "at_risk", "high"),  # call 25, mail 5, push 0.7
    )
    # Budget 22: a and b take 20; c's call (10) no longer fits, its mail (2) does.
    result = _by_user(decide(users, catalogue, budget=22.0))
    assert result["a"][:2] == ("call", 35.0) and result["b"][:2] == ("call", 30.0)
    assert result["c"] == ("mail", 0.7 * 0.1 * 100 - 2, 2.0, "budget_exhausted")
    # Budget 21: only the free push is left for c.
    result = _by_user(decide(users, catalogue, budget=21.0))
    assert result["c"] == ("push", 0.7 * 0.01 * 100 - 0, 0.0, "budget_exhausted")
    # Budget 0: free actions only.
    result = decide(users, catalogue, budget=0.0)
    assert set(result["action"]) == {"push"} and result["action_cost"].sum() == 0
    assert set(result["decision_reason"]) == {"budget_exhausted"}
    # A budget that a cheaper later pair can still use is not left idle.
    total = decide(users, catalogue, budget=25.0)["action_cost"].sum()
    assert total == 10 + 10 + 2


def test_budget_skips_a_pair_that_does_not_fit_and_serves_smaller_ones():
    catalogue = _catalogue(
        {"id": "call", "cost": 10.0, "effect": 0.5},
        {"id": "mail", "cost": 3.0, "effect": 0.5, "tiers": ["mid"]},
    )
    users = _users(
        ("big", 0.9, 100.0, "at_risk", "high"),  # call 35
        ("mid1", 0.9, 50.0, "at_risk", "mid"),  # mail 19.5
        ("mid2", 0.8, 50.0, "at_risk", "mid"),  # mail 17
    )
    result = _by_user(decide(users, catalogue, budget=9.0))
    assert result["big"] == (NO_ACTION, 0.0, 0.0, "budget_exhausted")
    assert result["mid1"][0] == "mail" and result["mid2"][0] == "mail"


def test_ties_prefer_action_id_then_user_id():
    user = _users(("u", 0.5, 100.0, "at_risk", "high"))
    same = _catalogue(
        {"id": "zeta", "cost": 1.0, "effect": 0.2}, {"id": "alpha", "cost": 1.0, "effect": 0.2}
    )
    assert decide(user, same)["action"].iloc[0] == "alpha"
    one_slot = _catalogue({"id": "vip", "cost": 1.0, "effect": 0.2, "capacity": 1})
    twins = _users(("9", 0.5, 100.0, "at_risk", "high"), ("10", 0.5, 100.0, "at_risk", "high"))
    result = _by_user(decide(twins, one_slot))
    assert result["10"][0] == "vip"  # "10" < "9" as strings
    assert result["9"] == (NO_ACTION, 0.0, 0.0, "capacity_reached")


def test_exact_cost_tie_prefers_cheaper_action():
    catalogue = _catalogue(
        {"id": "a_dear", "cost": 2.0, "effect": 0.5},  # 0.5 * 0.5 * 16 - 2 = 2
        {"id": "b_cheap", "cost": 0.0, "effect": 0.25},  # 0.5 * 0.25 * 16 - 0 = 2
    )
    assert 0.5 * 0.5 * 16.0 - 2.0 == 0.5 * 0.25 * 16.0 - 0.0
    result = decide(_users(("u", 0.5, 16.0, "at_risk", "high")), catalogue)
    assert result["action"].iloc[0] == "b_cheap"


def test_cooldown_blocks_recent_contacts_only():
    catalogue = _catalogue(
        {"id": "call", "cost": 1.0, "effect": 0.5, "cooldown_days": 7},
        {"id": "mail", "cost": 1.0, "effect": 0.1},
    )
    users = _users(*[(u, 0.5, 100.0, "at_risk", "high") for u in ("recent", "old", "future", "x")])
    contacts = pd.DataFrame(
        {
            "user_id": ["recent", "old", "future", "x"],
            "action_id": ["call", "call", "call", "retired_action"],
            "contacted_at": pd.to_datetime(
                ["2024-03-08", "2024-03-03", "2024-03-12", "2024-03-09"]
            ),
        }
    )
    result = _by_user(decide(users, catalogue, last_contacts=contacts, as_of="2024-03-10"))
    assert result["recent"][0] == "mail"  # 2 days ago < 7: call blocked
    assert result["old"][0] == "call"  # exactly 7 days ago: allowed again
    assert result["future"][0] == "call"  # after as_of: not yet happened
    assert result["x"][0] == "call"  # unknown action ids are ignored
    only_call = _catalogue({"id": "call", "cost": 1.0, "effect": 0.5, "cooldown_days": 7})
    result = _by_user(decide(users, only_call, last_contacts=contacts, as_of="2024-03-10"))
    assert result["recent"] == (NO_ACTION, 0.0, 0.0, "in_cooldown")
    with pytest.raises(ValueError, match="needs as_of"):
        decide(users, catalogue, last_contacts=contacts)


def test_bad_inputs_fail_clearly():
    catalogue = _catalogue({"id": "call", "cost": 1.0, "effect": 0.5})
    with pytest.raises(KeyError, match="value_tier"):
        decide(_users(("u", 0.5, 1.0, "at_risk", "high")).drop(columns="value_tier"), catalogue)
    with pytest.raises(ValueError, match="unknown values \\['sleeping'\\]"):
        decide(_users(("u", 0.5, 1.0, "sleeping", "high")), catalogue)
    with pytest.raises(ValueError, match="duplicate user_id"):
        decide(_users(("u", 0.5, 1.0, "new", "low"), ("u", 0.5, 1.0, "new", "low")), catalogue)
    with pytest.raises(ValueError, match="budget"):
        decide(_users(("u", 0.5, 1.0, "new", "low")), catalogue, budget=-1)


def test_default_catalogue_follows_the_playbook():
    users = _users(
        ("valuable_at_risk", 0.8, 500.0, "at_risk", "high"),
        ("newcomer", 0.5, 20.0, "new", "mid"),
        ("lapsed", 0.9, 100.0, "dormant", "high"),
        ("low_active", 0.3, 5.0, "active", "low"),
        ("worthless", 0.9, 0.001, "at_risk", "none"),
        ("empty_catalogue_case", 0.3, 5.0, "churned", "low"),
    )
    result = _by_user(decide(users, load_catalogue()))
    assert result["valuable_at_risk"][0] == "vip_care"
    assert result["newcomer"][0] == "welcome_offer"
    assert result["lapsed"][0] == "winback_offer"
    assert result["low_active"][0] == "referral_incentive"
    assert result["worthless"][0] == NO_ACTION
    assert result["empty_catalogue_case"] == (NO_ACTION, 0.0, 0.0, "no_eligible_action")
    assert decide(users, ActionCatalogue())["decision_reason"].eq("no_eligible_action").all()


# --- reference greedy and randomised equivalence ---------------------------------------------


def _reference_decide(users: pd.DataFrame, catalogue: ActionCatalogue, budget: float | None):
    """The documented sequential greedy as a plain loop over sorted pairs."""
    rows = list(users.itertuples(index=False))
    pairs, eligible_any, best = [], set(), {}
    for user in rows:
        for action in catalogue.actions:
            p, v = user.churn_probability, user.predicted_value
            if not (
                user.lifecycle_stage in action.stages
                and user.value_tier in action.tiers
                and action.min_risk <= p <= action.max_risk
            ):
                continue
            eligible_any.add(user.user_id)
            gain = p * action.effect.for_segment(user.lifecycle_stage, user.value_tier) * v
            gain -= action.cost
            if gain > 0:
                pairs.append((-gain, action.cost, action.id, str(user.user_id), action, gain))
    pairs.sort(key=lambda pair: pair[:4])
    spent, used, chosen = 0.0, {}, {}
    limit = float("inf") if budget is None else budget
    for _, cost, action_id, user_id, action, gain in pairs:
        best.setdefault(user_id, action)
        if user_id in chosen:
            continue
        if action.capacity is not None and used.get(action_id, 0) >= action.capacity:
            continue
        if spent + cost > limit:
            continue
        spent += cost
        used[action_id] = used.get(action_id, 0) + 1
        chosen[user_id] = (action_id, gain, cost)
    out = []
    for user in rows:
        uid = str(user.user_id)
        action_id, gain, cost = chosen.get(uid, (NO_ACTION, 0.0, 0.0))
        if uid in chosen and chosen[uid][0] == best[uid].id:
            reason = "best_gain"
        elif uid in best:
            top = best[uid]
            full = top.capacity is not None and used.get(top.id, 0) >= top.capacity
            reason = "capacity_reached" if full else "budget_exhausted"
        elif uid in eligible_any:
            reason = "no_action_not_worth_cost"
        else:
            reason = "no_eligible_action"
        out.append((user.user_id, action_id, gain, cost, reason))
    return pd.DataFrame(out, columns=COLUMNS)


_costs = st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0])
_action_strategy = st.fixed_dictionaries(
    {
        "cost": _costs,
        "stages": st.lists(st.sampled_from(STAGES), min_size=1, max_size=3, unique=True),
        "tiers": st.lists(st.sampled_from(TIERS), min_size=1, max_size=3, unique=True),
        "min_risk": st.sampled_from([0.0, 0.2, 0.5]),
        "effect": st.fixed_dictionaries(
            {
                "default": st.sampled_from([-0.1, 0.05, 0.1, 0.3]),
                "by_segment": st.dictionaries(
                    st.sampled_from(["at_risk/high", "active/*", "*/low", "new/mid"]),
                    st.sampled_from([0.0, 0.2, 0.5]),
                    max_size=2,
                ),
            }
        ),
        "capacity": st.one_of(st.none(), st.integers(0, 4)),
    }
)
_user_strategy = st.tuples(
    st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]),  # few values, so ties are frequent
    st.sampled_from([0.0, 5.0, 10.0, 40.0, 100.0]),
    st.sampled_from(STAGES),
    st.sampled_from(TIERS),
)


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    actions=st.lists(_action_strategy, min_size=0, max_size=5),
    user_rows=st.lists(_user_strategy, min_size=0, max_size=25),
    budget=st.one_of(st.none(), st.sampled_from([0.0, 1.0, 3.5, 7.0, 12.0, 30.0])),
    seed=st.integers(0, 2**16),
)
def test_fast_allocation_equals_reference_greedy(actions, user_rows, budget, seed):
    catalogue = parse_catalogue(
        {
            "actions": [
                {"id": f"act{i}", "label": "x", "channel": "email"} | spec
                for i, spec in enumerate(actions)
            ]
        }
    )
    ids = np.random.default_rng(seed).permutation(len(user_rows) * 3)[: len(user_rows)]
    users = pd.DataFrame(
        [(f"u{i}", *row) for i, row in zip(ids, user_rows, strict=True)],
        columns=[
            "user_id",
            "churn_probability",
            "predicted_value",
            "lifecycle_stage",
            "value_tier",
        ],
    )
    fast = decide(users, catalogue, budget=budget)
    slow = _reference_decide(users, catalogue, budget)
    assert fast["action"].tolist() == slow["action"].tolist()
    assert fast["decision_reason"].tolist() == slow["decision_reason"].tolist()
    assert set(fast["decision_reason"]) <= set(DECISION_REASONS)
    np.testing.assert_array_equal(fast["expected_gain"], slow["expected_gain"])
    np.testing.assert_array_equal(fast["action_cost"], slow["action_cost"])
    if budget is not None:
        assert fast["action_cost"].sum() <= budget + 1e-9


def test_fast_allocation_equals_reference_on_a_larger_crowded_batch():
    rng = np.random.default_rng(7)
    n = 600
    catalogue = load_catalogue()
    users = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in rng.permutation(n)],
            "churn_probability": rng.choice([0.2, 0.5, 0.6, 0.8], n),
            "predicted_value": rng.choice([5.0, 50.0, 200.0, 800.0], n),
            "lifecycle_stage": rng.choice(STAGES, n),
            "value_tier": rng.choice(TIERS, n),
        }
    )
    tight = ActionCatalogue(
        actions=[a.model_copy(update={"capacity": 7}) for a in catalogue.actions]
    )
    for cat, budget in ((catalogue, None), (catalogue, 150.0), (tight, 400.0)):
        fast = decide(users, cat, budget=budget)
        slow = _reference_decide(users, cat, budget)
        pd.testing.assert_frame_equal(fast.astype(object), slow.astype(object))
