"""Policy replay: the window after a cutoff re-run under decision tables with true effects.

Expected values come from elsewhere than the replay: the plain event log (counted with pandas),
the lift table's documented rule, and arithmetic on the returned outcomes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.campaigns import CampaignPlan
from simulator.policy_replay import (
    BASELINE,
    NO_ACTION,
    STAGES,
    expected_uplift,
    policy_profit,
    replay,
    true_lift,
)
from simulator.simulation import SimulationConfig, simulate_events

# Two chunks, and campaigns before the cutoff that the replay's history must reproduce.
CONFIG = SimulationConfig(
    users=1_500,
    days=200,
    seed=13,
    chunk_users=750,
    campaigns=CampaignPlan(first_day=40, every_days=40, last_day=140),
)
CUTOFF, HORIZON = 140, 60
START = pd.Timestamp("2024-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return simulate_events(CONFIG)


@pytest.fixture(scope="module")
def seen(log) -> pd.Index:
    return pd.Index(sorted(log.loc[log["event_time"] < START + CUTOFF * DAY, "user_id"].unique()))


def _mixed_table(seen: pd.Index) -> dict[str, str]:
    """Every fifth user seen gets one of three actions in turn."""
    actions = ("vip_care", "winback_offer", "habit_nudge")
    return {user: actions[i % 3] for i, user in enumerate(seen[::5])}


def test_lift_table_follows_the_documented_rule():
    lift = pd.DataFrame(true_lift("vip_care"), index=STAGES, columns=["high", "mid", "low"])
    assert lift.loc["at_risk"].tolist() == [1.8, 0.6, 0.0]  # simulator.campaigns.TRUE_LIFT
    assert lift.loc["active"].tolist() == pytest.approx([0.9, 0.3, 0.0])  # off stage: half
    assert true_lift("retention_discount")[STAGES.index("at_risk"), 0] == pytest.approx(0.9)
    assert true_lift("onboarding_call")[STAGES.index("new"), 0] == pytest.approx(0.9)
    assert true_lift("winback_offer")[STAGES.index("gone"), 0] == pytest.approx(0.75)
    assert true_lift("habit_nudge")[STAGES.index("active"), 0] == -1.5
    assert true_lift("referral_incentive")[STAGES.index("active"), 0] == 0.0  # not in the table


def test_same_inputs_same_outcomes_and_another_future_differs(seen):
    tables = {"mixed": _mixed_table(seen)}
    first = replay(CONFIG, CUTOFF, tables, horizon_days=HORIZON)
    again = replay(CONFIG, CUTOFF, dict(tables), horizon_days=HORIZON)
    pd.testing.assert_frame_equal(first, again)
    other = replay(CONFIG, CUTOFF, tables, horizon_days=HORIZON, futures=(1,))
    assert not np.array_equal(first["revenue"].to_numpy(), other["revenue"].to_numpy())
    date_cutoff = replay(CONFIG, "2024-05-20", tables, horizon_days=HORIZON)  # day 140
    pd.testing.assert_frame_equal(first, date_cutoff)


def test_contacting_nobody_reproduces_the_event_log(log, seen):
    everyone_idle = dict.fromkeys(seen, NO_ACTION)
    out = replay(CONFIG, CUTOFF, {"empty": {}, "idle": everyone_idle}, horizon_days=HORIZON)
    cutoff = START + CUTOFF * DAY
    window = log[(log["event_time"] >= cutoff) & (log["event_time"] < cutoff + HORIZON * DAY)]
    purchases = window[window["event_type"] == "purchase"].groupby("user_id").size()
    returned = set(log.loc[log["event_time"].between(cutoff, cutoff + 30 * DAY, "left"),
                           "user_id"])  # fmt: skip
    money = window[window["amount"] != 0].groupby("user_id")["amount"]
    only_bought = (money.min() > 0).reindex(seen, fill_value=False)
    baseline = out[out["policy"] == BASELINE].set_index("user_id")
    for policy in (BASELINE, "empty", "idle"):
        got = out[out["policy"] == policy].set_index("user_id")
        assert list(got.index) == list(seen)
        assert (got["purchases"] == purchases.reindex(seen, fill_value=0)).all()
        assert (got["churned"] == ~got.index.isin(returned)).all()
        assert (got["revenue"][~got.index.isin(money.groups)] == 0).all()
        assert (got["revenue"][only_bought[only_bought].index] > 0).all()
        assert (got["revenue"] == baseline["revenue"]).all()


def test_a_table_contacting_nobody_has_zero_incremental_profit(seen):
    tables = {"empty": {}, "idle": dict.fromkeys(seen[:50], NO_ACTION)}
    profit = policy_profit(replay(CONFIG, CUTOFF, tables, horizon_days=HORIZON), {"vip_care": 25})
    for policy in tables:
        row = profit[profit["policy"] == policy].iloc[0]
        assert (row["contacted"], row["cost"], row["revenue_kept"]) == (0, 0.0, 0.0)
        assert row["incremental_profit"] == 0.0


def test_profit_is_revenue_kept_minus_contact_costs(seen):
    table = _mixed_table(seen)
    costs = {"vip_care": 25.0, "winback_offer": 2.0, "habit_nudge": 0.05}
    out = replay(CONFIG, CUTOFF, {"mixed": table}, horizon_days=HORIZON)
    row = policy_profit(out, costs).set_index("policy").loc["mixed"]
    expected_cost = sum(costs[action] for action in table.values())
    revenue = out.groupby("policy")["revenue"].sum()
    assert row["contacted"] == len(table)
    assert row["cost"] == pytest.approx(expected_cost)
    assert row["revenue_kept"] == pytest.approx(revenue["mixed"] - revenue[BASELINE])
    assert row["incremental_profit"] == pytest.approx(row["revenue_kept"] - expected_cost)


def test_a_helping_action_never_lowers_the_expected_outcome():
    futures = range(1, 9)
    out = replay(CONFIG, CUTOFF, {"vip": "vip_care"}, horizon_days=HORIZON, futures=futures)
    base = out[out["policy"] == BASELINE].set_index(["user_id", "future"])
    vip = out[out["policy"] == "vip"].set_index(["user_id", "future"])
    idle = vip["lift"] == 0  # low tier: vip_care does nothing, so the path is the baseline's
    assert idle.any() and (vip["lift"] >= 0).all()
    assert (vip.loc[idle, "revenue"] == base.loc[idle, "revenue"]).all()
    assert (vip.loc[idle, "churned"] == base.loc[idle, "churned"]).all()
    gain = (vip["revenue"] - base["revenue"])[~idle].groupby(vip["tier"][~idle]).mean()
    assert (gain > 0).all() and set(gain.index) == {"high", "mid"}
    for tier in ("high", "mid"):
        mine = ~idle & (vip["tier"] == tier)
        assert vip.loc[mine, "churned"].mean() < base.loc[mine, "churned"].mean()
    per_user = (vip["revenue"] - base["revenue"])[~idle].groupby(level="user_id").mean()
    assert (per_user < 0).mean() < 0.02  # a rare user's futures are unlucky, not worse by design


def test_expected_uplift_is_the_mean_difference_to_nobody(seen):
    futures = (1, 2)
    uplift = expected_uplift(CONFIG, CUTOFF, ["habit_nudge"], futures, horizon_days=HORIZON)
    out = replay(CONFIG, CUTOFF, {"all": "habit_nudge"}, horizon_days=HORIZON, futures=futures)
    mean = out.groupby(["policy", "user_id"])["revenue"].mean()
    expected = (mean["all"] - mean[BASELINE]).reindex(uplift.index)
    assert list(uplift.columns) == ["habit_nudge"] and set(uplift.index) == set(seen)
    np.testing.assert_allclose(uplift["habit_nudge"].to_numpy(), expected.to_numpy())


@pytest.mark.parametrize(
    ("tables", "kwargs", "message"),
    [
        ({"x": {"u0000001": "free_lunch"}}, {}, "no true effect"),
        ({"x": {"nobody-like-this": "vip_care"}}, {}, "not in the simulation"),
        ({BASELINE: {}}, {}, "reserved"),
        ({"x": {}}, {"horizon_days": 90}, "inside the simulated"),
        ({"x": {}}, {"horizon_days": 10}, ">= 30"),
    ],
)
def test_bad_requests_fail_with_a_message(tables, kwargs, message):
    with pytest.raises(ValueError, match=message):
        replay(CONFIG, CUTOFF, tables, **{"horizon_days": HORIZON, **kwargs})
