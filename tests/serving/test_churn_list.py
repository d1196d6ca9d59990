"""The churn list on hand-made scores: filters, ranking, ties and typos."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from serving.churn_list import LIST_COLUMNS, ChurnListQuery, churn_list, matching, split_list

ROWS = [
    # user_id, churn_probability, predicted_value, stage, tier, action, expected_gain, cost
    ("a", 0.90, 100.0, "at_risk", "high", "vip_care", 6.5, 25.0),
    ("b", 0.60, 50.0, "at_risk", "mid", "retention_discount", 0.6, 3.0),
    ("c", 0.20, 10.0, "active", "low", "habit_nudge", 0.03, 0.05),
    ("d", 0.95, 2.0, "dormant", "low", "no_action", 0.0, 0.0),
    ("e", 0.60, 50.0, "at_risk", "mid", "retention_discount", 0.6, 3.0),  # ties with b
]


def _scores() -> pd.DataFrame:
    frame = pd.DataFrame(
        ROWS,
        columns=[
            "user_id",
            "churn_probability",
            "predicted_value",
            "lifecycle_stage",
            "value_tier",
            "action",
            "expected_gain",
            "action_cost",
        ],
    )
    return frame.assign(reasons="no activity for 41 days")


def test_default_list_ranks_by_expected_gain_with_user_id_breaking_ties():
    listed = churn_list(_scores())
    assert list(listed.columns) == list(LIST_COLUMNS)
    assert listed["user_id"].tolist() == ["a", "b", "e", "c", "d"]
    assert listed["rank"].tolist() == [1, 2, 3, 4, 5]
    assert listed.loc[0, "value_at_risk"] == pytest.approx(90.0)


def test_sort_by_risk_and_by_value_at_risk():
    by_risk = churn_list(_scores(), ChurnListQuery(sort_by="risk"))
    assert by_risk["user_id"].tolist() == ["d", "a", "b", "e", "c"]
    by_money = churn_list(_scores(), ChurnListQuery(sort_by="value_at_risk"))
    assert by_money["user_id"].tolist() == ["a", "b", "e", "c", "d"]


def test_filters_combine_and_top_cuts():
    query = ChurnListQuery(stages=("at_risk", "dormant"), min_risk=0.61, top=5)
    assert churn_list(_scores(), query)["user_id"].tolist() == ["a", "d"]
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
