"""Reason codes: the right features are picked, and each reads as a plain sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.decisions.reasons import LOW_RISK_TEXT, TEMPLATES, describe, reason_codes

NAN = float("nan")
PIPELINE_FEATURES = [
    "days_since_last_event",
    "days_since_first_event",
    "events_7d",
    "events_30d",
    "events_90d",
    "active_days_30d",
    "purchases_90d",
    "revenue_90d",
    "revenue_total",
    "events_total",
    "events_prev_30d",
    "activity_change_30d",
    "active_days_90d",
    "revenue_30d",
    "revenue_prev_30d",
    "revenue_change_30d",
    "purchases_total",
    "days_since_last_purchase",
    "avg_purchase_value",
    "refunds_90d",
    "refund_amount_total",
    "mean_gap_days",
    "events_per_active_day_30d",
    "distinct_event_types_90d",
    "purchase_rate_90d",
    "weekend_share_90d",
    "night_share_90d",
    "reactivated_30d",
]


def test_top_positive_contributions_in_order_and_bias_ignored():
    features = pd.DataFrame(
        {
            "days_since_last_event": [41.7, 3.0, 10.0],
            "activity_change_30d": [-0.6, 0.25, NAN],
            "events_30d": [2, 1, 0],
            "refunds_90d": [2, 0, 1],
        }
    )
    contributions = pd.DataFrame(
        {
            "days_since_last_event": [0.9, -0.2, -0.1],
            "activity_change_30d": [0.4, -0.1, -0.3],
            "events_30d": [0.1, 0.3, -0.2],
            "refunds_90d": [0.6, -0.5, -0.4],
            "bias": [5.0, 5.0, 5.0],
        }
    )
    assert reason_codes(features, contributions) == [
        [
            "no activity for 41 days",
            "2 refunds in the last 90 days",
            "activity down 60% on the previous month",
        ],
        ["only 1 event in the last 30 days"],  # the one positive driver only
        [LOW_RISK_TEXT],  # nothing pushes risk up
    ]
    assert reason_codes(features, contributions, top_k=1)[0] == ["no activity for 41 days"]


def test_ties_keep_column_order_and_zero_is_not_a_driver():
    features = pd.DataFrame({"events_7d": [0], "events_90d": [4], "purchases_90d": [0]})
    contributions = pd.DataFrame({"events_7d": [0.2], "events_90d": [0.2], "purchases_90d": [0.0]})
    assert reason_codes(features, contributions, top_k=3) == [
        ["no events in the last 7 days", "only 4 events in the last 90 days"]
    ]


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("days_since_last_event", 41.2, "no activity for 41 days"),
        ("days_since_last_event", 1.0, "no activity for 1 day"),
        ("days_since_last_event", 0.4, "active within the last day"),
        ("activity_change_30d", -0.6, "activity down 60% on the previous month"),
        ("activity_change_30d", 0.25, "activity up 25% on the previous month"),
        ("activity_change_30d", NAN, "no activity in the previous month to compare"),
        ("events_30d", 2, "only 2 events in the last 30 days"),
        ("events_30d", 0, "no events in the last 30 days"),
        ("active_days_30d", 3, "active on 3 of the last 30 days"),
        ("active_days_30d", 0, "not active in the last 30 days"),
        ("revenue_90d", 12.5, "spent 12.50 in the last 90 days"),
        ("revenue_90d", 0.0, "spent nothing in the last 90 days"),
        ("revenue_90d", -4.0, "net refunds of 4.00 in the last 90 days"),
        ("revenue_total", 1234.5, "spent 1,234.50 in total"),
        ("revenue_change_30d", -0.5, "spending down 50% on the previous month"),
        ("days_since_last_purchase", 73.9, "last purchase 73 days ago"),
        ("days_since_last_purchase", NAN, "never purchased"),
        ("purchases_total", 0, "never purchased"),
        ("purchases_90d", 1, "only 1 purchase in the last 90 days"),
        ("refunds_90d", 2, "2 refunds in the last 90 days"),
        ("refunds_90d", 1, "1 refund in the last 90 days"),
        ("refund_amount_total", 30.0, "refunded 30.00 in total"),
        ("avg_purchase_value", NAN, "no purchases yet"),
        ("mean_gap_days", 6.25, "6.2 days between events on average"),
        ("weekend_share_90d", 0.5, "50% of activity at weekends in the last 90 days"),
        ("reactivated_30d", 1, "back recently after a long break"),
        ("support_tickets_30d", 3, "support tickets 30d = 3"),  # generic fallback
        ("support_tickets_30d", NAN, "support tickets 30d is missing"),
    ],
)
def test_operator_wording(feature, value, text):
    assert describe(feature, value) == text


def test_every_pipeline_feature_has_a_template_that_handles_nulls():
    assert set(PIPELINE_FEATURES) <= set(TEMPLATES)
    for feature in PIPELINE_FEATURES:
        for value in (NAN, 0.0, 1.0, 37.5, -0.4):
            text = describe(feature, value)
            assert text and "nan" not in text.lower()


def test_vectorised_rendering_matches_cell_by_cell():
    rng = np.random.default_rng(3)
    n, columns = 400, PIPELINE_FEATURES[:12]
    values = rng.choice([NAN, 0.0, 1.0, 2.0, 17.3, -0.6], size=(n, len(columns)))
    features = pd.DataFrame(values, columns=columns)
    contributions = pd.DataFrame(rng.normal(size=(n, len(columns))), columns=columns)
    result = reason_codes(features, contributions, top_k=3)
    for row in range(n):
        c = contributions.iloc[row]
        top = [f for f in c.sort_values(ascending=False, kind="stable").index[:3] if c[f] > 0]
        expected = [describe(f, features.at[row, f]) for f in top] or [LOW_RISK_TEXT]
        assert result[row] == expected


def test_inputs_are_checked():
    features = pd.DataFrame({"events_7d": [1, 2]})
    with pytest.raises(ValueError, match="same users"):
        reason_codes(features, pd.DataFrame({"events_7d": [0.1]}))
    with pytest.raises(KeyError, match="events_30d"):
        reason_codes(features, pd.DataFrame({"events_30d": [0.1, 0.2]}))
    with pytest.raises(ValueError, match="top_k"):
        reason_codes(features, pd.DataFrame({"events_7d": [0.1, 0.2]}), top_k=0)
    assert reason_codes(features.iloc[:0], pd.DataFrame({"events_7d": []})) == []
    assert reason_codes(features, pd.DataFrame({"bias": [1.0, 1.0]})) == [[LOW_RISK_TEXT]] * 2


def test_values_equal_to_1e_9_read_the_same_across_a_rounding_boundary():
    # What DuckDB and Spark give for one average purchase: 1e-12 apart, either side of .085.
    below, above = 16.085 - 1e-12, 16.085 + 1e-12
    assert f"{below:.2f}" != f"{above:.2f}"  # the naive formatting disagrees
    assert describe("avg_purchase_value", below) == describe("avg_purchase_value", above)
