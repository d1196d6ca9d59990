"""Lifecycle stages at every rule boundary, and value tiers with quantile and fixed cuts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from serving.decisions.segments import SegmentConfig, TierConfig, ValueTiers, assign_stages

NAN = float("nan")


def _stage(tenure: float, recency: float, p: float = 0.1, reactivated: int = 0, **config) -> str:
    frame = pd.DataFrame(
        {
            "days_since_first_event": [tenure],
            "days_since_last_event": [recency],
            "reactivated_30d": [reactivated],
        }
    )
    return assign_stages(frame, [p], SegmentConfig(**config)).iloc[0]


@pytest.mark.parametrize(
    ("tenure", "recency", "p", "reactivated", "expected"),
    [
        (14.0, 1.0, 0.9, 0, "new"),  # new wins over at_risk, at the boundary
        (14.01, 1.0, 0.1, 0, "active"),
        (10.0, NAN, 0.9, 0, "new"),  # new even without activity events
        (200.0, 90.0, 0.1, 0, "active"),  # last activity exactly at the window: still active
        (200.0, 90.01, 0.1, 0, "dormant"),
        (400.0, 365.0, 0.1, 0, "dormant"),
        (400.0, 365.01, 0.1, 0, "churned"),
        (300.0, NAN, 0.1, 0, "dormant"),  # no activity event: judged by tenure
        (365.0, NAN, 0.1, 0, "dormant"),
        (365.01, NAN, 0.1, 0, "churned"),
        (200.0, 120.0, 0.99, 1, "dormant"),  # lapsed wins over risk and reactivation
        (200.0, 5.0, 0.5, 0, "at_risk"),  # threshold is inclusive
        (200.0, 5.0, 0.4999, 0, "active"),
        (200.0, 5.0, 0.7, 1, "at_risk"),  # at_risk wins over reactivated
        (200.0, 5.0, 0.2, 1, "reactivated"),
        (200.0, 5.0, NAN, 0, "active"),  # unknown risk never makes a user at risk
    ],
)
def test_stage_rules_at_boundaries(tenure, recency, p, reactivated, expected):
    assert _stage(tenure, recency, p, reactivated) == expected


def test_thresholds_come_from_config():
    assert _stage(20.0, 1.0, new_days=30) == "new"
    assert _stage(200.0, 50.0, active_window_days=30) == "dormant"
    assert _stage(200.0, 150.0, active_window_days=30, dormant_max_days=100) == "churned"
    assert _stage(200.0, 1.0, p=0.3, at_risk_threshold=0.25) == "at_risk"


def test_stages_keep_index_and_need_no_reactivation_column():
    frame = pd.DataFrame(
        {"days_since_first_event": [100.0, 5.0], "days_since_last_event": [1.0, 1.0]},
        index=["x", "y"],
    )
    stages = assign_stages(frame, np.array([0.1, 0.1]))
    assert stages.to_dict() == {"x": "active", "y": "new"}
    assert stages.name == "lifecycle_stage"


def test_stage_inputs_are_checked():
    frame = pd.DataFrame({"days_since_first_event": [1.0]})
    with pytest.raises(KeyError, match="days_since_last_event"):
        assign_stages(frame, [0.1])
    frame["days_since_last_event"] = [1.0]
    with pytest.raises(ValueError, match="one value per row"):
        assign_stages(frame, [0.1, 0.2])


def test_segment_config_rejects_bad_values():
    with pytest.raises(ValidationError, match="dormant_max_days"):
        SegmentConfig(active_window_days=90, dormant_max_days=30)
    with pytest.raises(ValidationError, match="at_risk_threshold"):
        SegmentConfig(at_risk_threshold=1.5)
    with pytest.raises(ValidationError, match="Extra inputs"):
        SegmentConfig(new_dayz=3)


def test_quantile_tiers_are_cut_over_valued_users_only():
    valued = np.arange(1.0, 11.0)  # 1..10
    values = np.concatenate([[0.0, 0.005, NAN], valued])
    tiers = ValueTiers().fit(values)
    # numpy's linear quantiles over 1..10 (zero and NaN users excluded): 0.5 -> 5.5,
    # 0.8 -> position 7.2 between 8 and 9 -> 8.2.
    assert tiers.mid_cut_ == pytest.approx(5.5)
    assert tiers.high_cut_ == pytest.approx(8.2)
    result = tiers.transform(values).tolist()
    expected = ["none", "none", "none"] + ["low"] * 5 + ["mid"] * 3 + ["high"] * 2
    assert result == expected


def test_fixed_tiers_and_none():
    tiers = ValueTiers(mode="fixed", high_amount=100.0, mid_amount=20.0, zero_value=0.01)
    values = pd.Series([100.0, 99.99, 20.0, 19.99, 0.01, 0.009, -5.0], index=list("abcdefg"))
    result = tiers.fit(None).transform(values)
    assert result.tolist() == ["high", "mid", "mid", "low", "low", "none", "none"]
    assert list(result.index) == list("abcdefg")


def test_cuts_are_fitted_once_and_reused():
    tiers = ValueTiers(high_quantile=0.5, mid_quantile=0.5).fit([1.0, 3.0])  # both cuts at 2
    assert tiers.transform([2.0, 1.99, 50.0]).tolist() == ["high", "low", "high"]
    assert clone(tiers).get_params() == tiers.get_params()


def test_params_follow_the_estimator_contract_without_scikit_learn_as_a_base():
    tiers = ValueTiers(high_quantile=0.9)
    assert tiers.set_params(mid_quantile=0.4) is tiers
    assert tiers.get_params()["mid_quantile"] == 0.4 and tiers.get_params()["high_quantile"] == 0.9
    assert repr(tiers) == "ValueTiers(high_quantile=0.9, mid_quantile=0.4)"
    with pytest.raises(ValueError, match=r"invalid parameter.*high_cut"):
        tiers.set_params(high_cut=3.0)


def test_no_valued_users_puts_everyone_low_or_none():
    tiers = ValueTiers().fit([0.0, 0.0])
    assert tiers.transform([0.0, 7.0]).tolist() == ["none", "low"]


def test_transform_before_fit_fails():
    with pytest.raises(NotFittedError):
        ValueTiers().transform([1.0])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mid_quantile": 0.9, "high_quantile": 0.8}, "mid cut must be <= high cut"),
        ({"high_quantile": 1.0}, r"high_quantile must be in \(0, 1\)"),
        ({"mid_quantile": 0.0}, r"mid_quantile must be in \(0, 1\)"),
        ({"mode": "fixed", "high_amount": 10.0}, "needs both high_amount and mid_amount"),
        ({"mode": "fixed", "high_amount": 10.0, "mid_amount": -1.0}, "mid_amount must be >= 0"),
        ({"mode": "fixed", "high_amount": 5.0, "mid_amount": 10.0}, "mid cut must be <= high"),
        ({"zero_value": -1.0}, "zero_value must be >= 0"),
        ({"mode": "deciles"}, "mode must be 'quantile' or 'fixed'"),
    ],
)
def test_bad_tier_parameters_fail_with_clear_messages(params, message):
    with pytest.raises(ValueError, match=message):
        ValueTiers(**params).fit([1.0, 2.0])
    if params.get("mode") != "deciles":
        with pytest.raises(ValidationError, match=message):
            TierConfig(**params)


def test_tier_config_builds_the_estimator():
    config = TierConfig.model_validate({"mode": "fixed", "high_amount": 50, "mid_amount": 10})
    tiers = config.build()
    assert isinstance(tiers, ValueTiers)
    assert tiers.fit(None).transform([60.0, 10.0, 1.0]).tolist() == ["high", "mid", "low"]
    with pytest.raises(ValidationError, match="Extra inputs"):
        TierConfig.model_validate({"mode": "quantile", "top_quantile": 0.9})


def _summary_scores() -> pd.DataFrame:
    """Four users whose value at risk (p × value at stake) differs from p × predicted value."""
    return pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "churn_probability": [0.8, 0.3, 0.6, 0.1],
            "value_at_stake": [100.0, 50.0, 10.0, 0.0],
            "predicted_value": [30.0, 40.0, 5.0, 1.0],
            "lifecycle_stage": ["at_risk", "active", "dormant", "active"],
            "value_tier": ["high", "mid", "low", "none"],
            "action": ["vip_care", "habit_nudge", "no_action", "no_action"],
            "action_cost": [25.0, 0.05, 0.0, 0.0],
            "expected_gain": [3.0, 0.55, 0.0, 0.0],
        }
    )


def test_segment_summary_values_risk_by_value_at_stake_and_keeps_the_threshold():
    """The page's summary uses churn probability × value at stake (as the churn list does) and
    draws the threshold the snapshot was segmented with, not the default one."""
    from serving.decisions.actions import load_catalogue
    from serving.reporting.segment_summary import SegmentSummaryCache, segment_numbers

    scores = _summary_scores()
    numbers = segment_numbers(scores, load_catalogue())
    assert numbers["value_at_risk"] == pytest.approx(
        {"high": 80.0, "mid": 15.0, "low": 6.0, "none": 0.0, "total": 101.0}
    )
    summary = SegmentSummaryCache(scores, None, load_catalogue(), at_risk_threshold=0.3).get()
    assert summary.at_risk_threshold == 0.3 and summary.charts_error is None
    assert summary.value_at_risk["total"] == pytest.approx(101.0)


def test_the_risk_chart_draws_the_threshold_it_is_given():
    from serving.reporting.charts import segment_figures

    figure = segment_figures(_summary_scores(), threshold=0.3)["risk_distribution"]
    (axes,) = figure.axes
    lines = [line for line in axes.get_lines() if line.get_label() == "at-risk threshold"]
    assert len(lines) == 1 and list(lines[0].get_xdata()) == [0.3, 0.3]
