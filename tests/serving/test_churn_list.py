"""The churn list and the action plan on hand-made scores: filters, ranking, ties and typos."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from serving.decisions.churn_list import (
    LIST_COLUMNS,
    PLAN_COLUMNS,
    ChurnListQuery,
    action_plan,
    churn_list,
    matching,
    split_list,
)

ROWS = [
    # user_id, churn_probability, value_at_stake, stage, tier, action, expected_gain, cost
    ("a", 0.90, 100.0, "at_risk", "high", "vip_care", 6.5, 25.0),  # at risk: 90
    ("b", 0.60, 50.0, "at_risk", "mid", "retention_discount", 0.6, 3.0),  # 30
    ("c", 0.20, 10.0, "active", "low", "habit_nudge", 0.03, 0.05),  # 2
    ("d", 0.95, 2.0, "dormant", "low", "no_action", 0.0, 0.0),  # 1.9
    ("e", 0.60, 50.0, "at_risk", "mid", "retention_discount", 0.6, 3.0),  # ties with b
    ("f", 0.10, 400.0, "active", "high", "habit_nudge", 0.8, 0.05),  # 40: safe but rich
]


def _scores() -> pd.DataFrame:
    frame = pd.DataFrame(
        ROWS,
        columns=[
            "user_id",
            "churn_probability",
            "value_at_stake",
            "lifecycle_stage",
            "value_tier",
            "action",
            "expected_gain",
            "action_cost",
        ],
    )
    # The unconditional value is what a user is worth either way; the list must not rank by it.
    return frame.assign(
        reasons="no activity for 41 days", predicted_value=1.0, decision_reason="best_gain"
    )


def test_default_list_ranks_by_value_at_risk_with_user_id_breaking_ties():
    """value at risk = churn probability × value at stake: a 90, f 40, b/e 30, c 2, d 1.9."""
    listed = churn_list(_scores())
    assert list(listed.columns) == list(LIST_COLUMNS)
    assert listed["user_id"].tolist() == ["a", "f", "b", "e", "c", "d"]
    assert listed["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert listed.loc[0, "value_at_risk"] == pytest.approx(90.0)
    assert listed.loc[1, "value_at_risk"] == pytest.approx(40.0)


def test_sort_by_risk_and_by_gain():
    by_risk = churn_list(_scores(), ChurnListQuery(sort_by="risk"))
    assert by_risk["user_id"].tolist() == ["d", "a", "b", "e", "c", "f"]
    by_gain = churn_list(_scores(), ChurnListQuery(sort_by="gain"))
    assert by_gain["user_id"].tolist() == ["a", "f", "b", "e", "c", "d"]


def test_top_none_lists_everyone():
    assert len(churn_list(_scores(), ChurnListQuery(top=None))) == len(ROWS)
    assert len(churn_list(_scores(), ChurnListQuery(top=2_000_000))) == len(ROWS)


def test_action_plan_lists_contacted_users_by_expected_gain():
    plan = action_plan(_scores())
    assert list(plan.columns) == list(PLAN_COLUMNS)
    assert plan["user_id"].tolist() == ["a", "f", "b", "e", "c"]  # d gets no action
    assert plan["expected_gain"].tolist() == [6.5, 0.8, 0.6, 0.6, 0.03]
    only_mid = action_plan(_scores(), ChurnListQuery(tiers=("mid",), top=1))
    assert only_mid["user_id"].tolist() == ["b"]


def test_filters_combine_and_top_cuts():
    query = ChurnListQuery(stages=("at_risk", "dormant"), min_risk=0.61, top=5)
    assert churn_list(_scores(), query)["user_id"].tolist() == ["a", "d"]  # by value at risk
    query = ChurnListQuery(tiers=("mid",), actions=("retention_discount",), top=1)
    assert churn_list(_scores(), query)["user_id"].tolist() == ["b"]
    assert matching(_scores(), ChurnListQuery(tiers=("mid",))).sum() == 2


def test_nothing_matching_gives_an_empty_list_with_the_columns():
    listed = churn_list(_scores(), ChurnListQuery(stages=("new",)))
    assert listed.empty and list(listed.columns) == list(LIST_COLUMNS)


def test_typos_in_filters_fail_instead_of_returning_nothing():
    with pytest.raises(ValidationError, match="unknown stage"):
        ChurnListQuery(stages=("at-risk",))
    with pytest.raises(ValidationError, match="unknown tier"):
        ChurnListQuery(tiers=("gold",))
    with pytest.raises(ValueError, match="unknown action"):
        churn_list(_scores(), ChurnListQuery(actions=("vip",)), known_actions=("vip_care",))


def test_split_list():
    assert split_list(" at_risk, dormant ,") == ("at_risk", "dormant")
    assert split_list(None) == ()
