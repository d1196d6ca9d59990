"""Decision policy as economics: hand-computed gains, who is served first and why, and the
allocation against an exhaustive search of every plan on small instances.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.decisions.actions import NO_ACTION, ActionCatalogue, load_catalogue, parse_catalogue
from serving.decisions.contacts import ContactHistory
from serving.decisions.policy import DECISION_REASONS, USER_COLUMNS, decide, decide_run
from serving.decisions.segments import STAGES, TIERS

COLUMNS = ["user_id", "action", "expected_gain", "action_cost", "decision_reason"]


def _catalogue(*actions: dict) -> ActionCatalogue:
    base = {"label": "x", "channel": "email", "stages": ["at_risk"], "tiers": ["high"]}
    return parse_catalogue({"actions": [base | action for action in actions]})


def _users(*rows: tuple) -> pd.DataFrame:
    """Rows of (user_id, churn_probability, value_at_stake, stage, tier)."""
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


def test_ties_are_settled_deterministically():
    user = _users(("u", 0.5, 100.0, "at_risk", "high"))
    same = _catalogue(
        {"id": "zeta", "cost": 1.0, "effect": 0.2}, {"id": "alpha", "cost": 1.0, "effect": 0.2}
    )
    first = decide(user, same)["action"].iloc[0]
    assert first in ("alpha", "zeta")
    assert all(decide(user, same)["action"].iloc[0] == first for _ in range(3))
    one_slot = _catalogue({"id": "vip", "cost": 1.0, "effect": 0.2, "capacity": 1})
    twins = _users(("9", 0.5, 100.0, "at_risk", "high"), ("10", 0.5, 100.0, "at_risk", "high"))
    result = decide(twins, one_slot)
    assert sorted(result["action"]) == [NO_ACTION, "vip"]
    assert set(result.loc[result["action"] == NO_ACTION, "decision_reason"]) == {"capacity_reached"}


def test_gain_uses_value_at_stake_not_the_unconditional_value():
    """A likely leaver worth 100 if kept and 10 if lost has 90 at stake. Its unconditional value
    is 0.9 × 10 + 0.1 × 100 = 19; gain on that would count churn twice: 0.9 × 0.2 × 19 − 1 =
    2.42 instead of 0.9 × 0.2 × 90 − 1 = 15.2."""
    catalogue = _catalogue({"id": "call", "cost": 1.0, "effect": 0.2})
    users = _users(("leaver", 0.9, 90.0, "at_risk", "high")).assign(predicted_value=19.0)
    result = _by_user(decide(users, catalogue))
    assert result["leaver"] == ("call", 0.9 * 0.2 * 90.0 - 1.0, 1.0, "best_gain")


def test_a_risky_user_outranks_a_safe_one_exactly_when_the_numbers_say_so():
    """Budget for one contact at cost 3 (effect 0.2). The at-risk user gains 0.6 × 0.2 × 100 − 3
    = 9; the loyal one 0.05 × 0.2 × S − 3, which is 7 at S = 1,000 (risky user served) and 10
    at S = 1,300 (loyal user served: a small risk on a large stake is worth more)."""
    catalogue = _catalogue(
        {"id": "call", "cost": 3.0, "effect": 0.2, "stages": ["at_risk", "active"]}
    )
    for stake, served in ((1000.0, "risky"), (1300.0, "loyal")):
        users = _users(
            ("risky", 0.6, 100.0, "at_risk", "high"), ("loyal", 0.05, stake, "active", "high")
        )
        result = _by_user(decide(users, catalogue, budget=3.0))
        other = "loyal" if served == "risky" else "risky"
        assert result[served][0] == "call"
        assert result[other] == (NO_ACTION, 0.0, 0.0, "budget_exhausted")


def test_budget_goes_where_it_earns_most_per_unit_not_to_the_biggest_gain():
    """Budget 25. One VIP contact (cost 25) gains 0.9 × 0.5 × 80 − 25 = 11; eight discounts
    (cost 3 each, 24 in all) gain 0.8 × 0.25 × 40 − 3 = 5 each, 40 in all. Greedy by absolute
    gain would spend everything on the VIP call (11); the optimum is the eight discounts."""
    catalogue = _catalogue(
        {"id": "vip", "cost": 25.0, "effect": 0.5},
        {"id": "discount", "cost": 3.0, "effect": 0.25, "tiers": ["mid"]},
    )
    users = _users(
        ("whale", 0.9, 80.0, "at_risk", "high"),
        *[(f"m{i}", 0.8, 40.0, "at_risk", "mid") for i in range(8)],
    )
    run = decide_run(users, catalogue, budget=25.0)
    result = _by_user(run.frame)
    assert result["whale"] == (NO_ACTION, 0.0, 0.0, "budget_exhausted")
    assert all(result[f"m{i}"][0] == "discount" for i in range(8))
    assert run.summary.achieved_gain == pytest.approx(8 * (0.8 * 0.25 * 40 - 3))
    assert run.summary.cost == pytest.approx(24.0)
    assert run.summary.upper_bound >= run.summary.achieved_gain - 1e-9


def test_cooldown_and_frequency_cap_come_from_the_contact_history():
    """Cooldown 7 days: contacted 2 days ago blocks `call` (falls to `mail`), exactly 7 days ago
    does not. Cap of 2 contacts in 30 days: a user with two recent contacts gets nothing."""
    catalogue = parse_catalogue(
        {
            "frequency_cap": {"max_contacts": 2, "days": 30},
            "actions": [
                {"id": "call", "label": "x", "channel": "phone", "stages": ["at_risk"],
                 "tiers": ["high"], "cost": 1.0, "effect": 0.5, "cooldown_days": 7},
                {"id": "mail", "label": "x", "channel": "email", "stages": ["at_risk"],
                 "tiers": ["high"], "cost": 1.0, "effect": 0.1},
            ],
        }
    )  # fmt: skip
    users = _users(*[(u, 0.5, 100.0, "at_risk", "high") for u in ("recent", "edge", "busy")])
    history = ContactHistory.from_frame(
        pd.DataFrame(
            {
                "user_id": ["recent", "edge", "busy", "busy"],
                "action_id": ["call", "call", "mail", "mail"],
                "assigned_at": pd.to_datetime(
                    ["2024-03-08", "2024-03-03", "2024-03-01", "2024-03-05"]
                ),
                "group": ["treated"] * 4,
            }
        ),
        catalogue,
    )
    blocks = history.blocks(pd.Index(users["user_id"]), catalogue, pd.Timestamp("2024-03-10"))
    result = _by_user(decide(users, catalogue, blocks=blocks))
    assert result["recent"] == ("mail", 0.5 * 0.1 * 100 - 1, 1.0, "best_gain")
    assert result["edge"][0] == "call"
    assert result["busy"] == (NO_ACTION, 0.0, 0.0, "frequency_capped")
    only_call = ActionCatalogue(actions=[catalogue.actions[0]])
    blocks = history.blocks(pd.Index(users["user_id"]), only_call, pd.Timestamp("2024-03-10"))
    assert _by_user(decide(users, only_call, blocks=blocks))["recent"] == (
        NO_ACTION,
        0.0,
        0.0,
        "in_cooldown",
    )


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


# --- the allocation against an exhaustive search of every plan --------------------------------


def _exhaustive(users: pd.DataFrame, catalogue: ActionCatalogue, budget: float | None) -> float:
    """The best total gain over every assignment of one action (or none) per user."""
    options = []
    for user in users.itertuples(index=False):
        mine = [(None, 0.0, 0.0)]
        for action in catalogue.actions:
            p, v = user.churn_probability, user.value_at_stake
            if not (
                user.lifecycle_stage in action.stages
                and user.value_tier in action.tiers
                and action.min_risk <= p <= action.max_risk
            ):
                continue
            effect = action.effect.for_segment(user.lifecycle_stage, user.value_tier)
            mine.append((action, p * effect * v - action.cost, action.cost))
        options.append(mine)
    best = 0.0
    limit = float("inf") if budget is None else budget
    for plan in itertools.product(*options):
        cost = sum(option[2] for option in plan)
        used: dict[str, int] = {}
        for action, _, _ in plan:
            if action is not None:
                used[action.id] = used.get(action.id, 0) + 1
        if cost > limit + 1e-9 or any(
            a.capacity is not None and used.get(a.id, 0) > a.capacity for a in catalogue.actions
        ):
            continue
        best = max(best, sum(option[1] for option in plan))
    return best


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
        "capacity": st.one_of(st.none(), st.integers(0, 3)),
    }
)
_user_strategy = st.tuples(
    st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]),
    st.sampled_from([0.0, 5.0, 10.0, 40.0, 100.0]),
    st.sampled_from(STAGES[:3]),
    st.sampled_from(TIERS[:3]),
)


@settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    actions=st.lists(_action_strategy, min_size=0, max_size=3),
    user_rows=st.lists(_user_strategy, min_size=0, max_size=6),
    budget=st.one_of(st.none(), st.sampled_from([0.0, 1.0, 3.5, 7.0, 12.0])),
)
def test_allocation_matches_the_exhaustive_optimum(actions, user_rows, budget):
    catalogue = parse_catalogue(
        {
            "actions": [
                {"id": f"act{i}", "label": "x", "channel": "email"} | spec
                for i, spec in enumerate(actions)
            ]
        }
    )
    users = pd.DataFrame(
        [(f"u{i}", *row) for i, row in enumerate(user_rows)], columns=list(USER_COLUMNS)
    )
    run = decide_run(users, catalogue, budget=budget)
    optimum = _exhaustive(users, catalogue, budget)
    achieved = float(run.frame["expected_gain"].sum())
    assert set(run.frame["decision_reason"]) <= set(DECISION_REASONS)
    assert achieved == pytest.approx(optimum, abs=1e-6)
    assert run.summary.upper_bound >= optimum - 1e-6
    if budget is not None:
        assert run.frame["action_cost"].sum() <= budget + 1e-9
    used = run.frame["action"].value_counts()
    for action in catalogue.actions:
        if action.capacity is not None:
            assert used.get(action.id, 0) <= action.capacity
