"""Reason codes on hand-made users: one reason per signal family, ranked by the family's summed
contribution, worded only where the words agree with the number, and plain sentences."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features import FEATURE_SET
from serving.decisions.explanations import explain_contributions
from serving.decisions.reason_wording import describe
from serving.decisions.reasons import (
    LOW_RISK_TEXT,
    MIXED_SIGNALS_TEXT,
    joined_reason_codes,
    reason_codes,
    typical_values,
)

NAN = float("nan")
# Words that only a risk-raising text may use.
RAISING_WORDS = re.compile(r"\b(only|no|not|never|nothing)\b")


def _one_user(values: dict, contributions: dict, reference: dict, top_k: int = 3) -> list[str]:
    """The reasons of one user read against a one-row reference."""
    return reason_codes(
        pd.DataFrame([values]), pd.DataFrame([contributions]), top_k, pd.DataFrame([reference])
    )[0]


def test_three_recency_signals_make_one_reason_ranked_by_their_sum():
    # recency: 0.20 + 0.15 + 0.10 = 0.45 > purchases 0.40 > history 0.12 (a plain top-3 of
    # features would list purchases first, then the three recency features).
    values = {
        "days_since_last_event": 31.5,
        "events_30d": 0,
        "active_days_30d": 0,
        "purchases_90d": 1,
        "events_total": 4,
    }
    reference = {
        "days_since_last_event": 6.0,
        "events_30d": 5.0,
        "active_days_30d": 3.0,
        "purchases_90d": 2.0,
        "events_total": 30.0,
    }
    contributions = {
        "days_since_last_event": 0.20,
        "events_30d": 0.15,
        "active_days_30d": 0.10,
        "purchases_90d": 0.40,
        "events_total": 0.12,
        "bias": -2.0,
    }
    assert _one_user(values, contributions, reference) == [
        "no activity for 31 days",  # the recency member that pushes most
        "only 1 purchase in the last 90 days",
        "only 4 events in total",
    ]
    assert _one_user(values, contributions, reference, top_k=1) == ["no activity for 31 days"]
    explained = explain_contributions(
        pd.Series(values), pd.Series(contributions), pd.Series(reference), top_k=3
    )
    recency = explained["families"][0]
    assert recency["family"] == "recency" and recency["effect"] == "raises risk"
    assert recency["contribution"] == pytest.approx(0.45)
    assert recency["text"] == "no activity for 31 days"


def test_a_push_up_from_a_value_on_the_safe_side_is_not_a_reason():
    # 14 purchases against a typical 3 cannot explain a raised risk, however the trees got there.
    values = {"purchases_90d": 14, "events_total": 51}
    reference = {"purchases_90d": 3.0, "events_total": 30.0}
    assert _one_user(values, {"purchases_90d": 0.4, "events_total": -0.1}, reference) == [
        MIXED_SIGNALS_TEXT  # the contributions add up to a raised risk, but none is worded
    ]
    assert _one_user(values, {"purchases_90d": 0.1, "events_total": -0.3}, reference) == [
        LOW_RISK_TEXT
    ]


def test_the_family_text_comes_from_the_strongest_member_whose_words_agree():
    # events_30d pushes most but stands above the typical count; days since the last event
    # (above the typical gap) agrees, so it words the family. The family sum still counts both.
    values = {"events_30d": 9, "days_since_last_event": 12.2, "refunds_90d": 2}
    reference = {"events_30d": 4.0, "days_since_last_event": 5.0, "refunds_90d": 0.0}
    contributions = {"events_30d": 0.5, "days_since_last_event": 0.1, "refunds_90d": 0.55}
    assert _one_user(values, contributions, reference) == [
        "no activity for 12 days",  # recency 0.6 ranks above refunds 0.55
        "2 refunds in the last 90 days",
    ]


def test_a_family_whose_sum_lowers_risk_is_not_listed():
    values = {"events_7d": 0, "events_30d": 20, "revenue_90d": 0.0}
    reference = {"events_7d": 1.0, "events_30d": 6.0, "revenue_90d": 10.0}
    contributions = {"events_7d": 0.2, "events_30d": -0.5, "revenue_90d": 0.05}
    assert _one_user(values, contributions, reference) == ["spent nothing in the last 90 days"]


def test_ties_at_the_reference_raise_but_a_zero_of_a_risk_signal_does_not():
    # Most users have no events in the last 7 days (reference 0): none still explains risk.
    # No refunds (reference 0) never does, whatever the contribution.
    values = {"events_7d": 0, "refunds_90d": 0, "refund_amount_total": 0.0}
    reference = {"events_7d": 0.0, "refunds_90d": 0.0, "refund_amount_total": 0.0}
    contributions = {"events_7d": 0.1, "refunds_90d": 0.3, "refund_amount_total": 0.2}
    assert _one_user(values, contributions, reference) == ["no events in the last 7 days"]


def test_missing_values_stand_where_they_mean():
    # Never purchased is on the risky side; an empty previous month says nothing either way.
    values = {"days_since_last_purchase": NAN, "activity_change_30d": NAN}
    reference = {"days_since_last_purchase": 40.0, "activity_change_30d": -0.1}
    contributions = {"days_since_last_purchase": 0.3, "activity_change_30d": 0.6}
    assert _one_user(values, contributions, reference) == ["never purchased"]


def test_features_without_an_expected_direction_are_never_listed():
    values = {"weekend_share_90d": 0.9, "unknown_signal": 3.0}
    reference = {"weekend_share_90d": 0.3, "unknown_signal": 1.0}
    contributions = {"weekend_share_90d": 0.4, "unknown_signal": 0.4}
    assert _one_user(values, contributions, reference) == [MIXED_SIGNALS_TEXT]


def test_each_user_is_read_against_the_reference_of_their_population():
    features = pd.DataFrame({"events_30d": [3.0, 3.0]})
    contributions = pd.DataFrame({"events_30d": [0.2, 0.2]})
    reference = pd.DataFrame({"events_30d": [8.0, 1.0]}, index=["active", "lapsed"])
    assert reason_codes(features, contributions, 3, reference, ["active", "lapsed"]) == [
        ["only 3 events in the last 30 days"],  # fewer than the typical active user
        [MIXED_SIGNALS_TEXT],  # more than the typical lapsed user: not a reason
    ]
    calm = pd.DataFrame({"events_30d": [-0.2, -0.2]})
    assert reason_codes(features, calm, 3, reference, ["active", "lapsed"]) == [
        ["no more at risk than a typical active user"],
        ["no more at risk than a typical lapsed user"],
    ]


def test_typical_values_are_medians_per_population_ignoring_missing():
    features = pd.DataFrame({"a": [1.0, 2.0, 9.0, NAN, 4.0], "b": [NAN, NAN, 1.0, 3.0, 5.0]})
    table = typical_values(features, ["x", "x", "x", "y", "y"])
    assert table.loc["x", "a"] == 2.0 and table.loc["y", "a"] == 4.0
    assert table.loc["x", "b"] == 1.0 and table.loc["y", "b"] == 4.0
    assert typical_values(features).loc["all"].tolist() == [3.0, 3.0]


@pytest.mark.parametrize(
    ("feature", "value", "tone", "text"),
    [
        ("days_since_last_event", 41.2, "raises", "no activity for 41 days"),
        ("days_since_last_event", 3.7, "lowers", "last activity 3 days ago"),
        ("days_since_last_event", 0.4, "lowers", "active within the last day"),
        ("days_since_last_event", NAN, "raises", "no activity on record"),
        ("events_30d", 2, "raises", "only 2 events in the last 30 days"),
        ("events_30d", 0, "raises", "no events in the last 30 days"),
        ("events_30d", 22, "lowers", "22 events in the last 30 days"),
        ("events_30d", 0, "neutral", "0 events in the last 30 days"),
        ("active_days_30d", 0, "raises", "not active in the last 30 days"),
        ("active_days_30d", 3, "raises", "active on only 3 of the last 30 days"),
        ("active_days_30d", 22, "lowers", "active on 22 of the last 30 days"),
        ("activity_change_30d", -0.6, "raises", "activity down 60% on the previous month"),
        ("activity_change_30d", 0.05, "raises", "activity up only 5% on the previous month"),
        ("activity_change_30d", 0.25, "lowers", "activity up 25% on the previous month"),
        ("activity_change_30d", 0.0, "raises", "activity no higher than the previous month"),
        ("activity_change_30d", 0.0, "lowers", "activity holding steady on the previous month"),
        ("activity_change_30d", 0.0, "neutral", "activity flat on the previous month"),
        (
            "activity_change_30d",
            -0.05,
            "lowers",
            "activity down 5% on the previous month, a smaller drop than most",
        ),
        ("activity_change_30d", NAN, "neutral", "activity trend unknown (previous month empty)"),
        ("revenue_90d", 12.5, "raises", "spent only 12.50 in the last 90 days"),
        ("revenue_90d", 0.0, "raises", "spent nothing in the last 90 days"),
        ("revenue_90d", -4.0, "raises", "no net spending in the last 90 days (refunds of 4.00)"),
        ("revenue_total", 1234.5, "lowers", "spent 1,234.50 in total"),
        ("days_since_last_purchase", 73.9, "raises", "no purchase for 73 days"),
        ("days_since_last_purchase", NAN, "raises", "never purchased"),
        ("days_since_last_purchase", 5.2, "lowers", "last purchase 5 days ago"),
        ("purchases_total", 0, "raises", "never purchased"),
        ("purchases_total", 14, "lowers", "14 purchases in total"),
        ("purchases_90d", 1, "raises", "only 1 purchase in the last 90 days"),
        ("purchase_rate_90d", 0.0, "raises", "no purchases in the last 90 days"),
        ("purchase_rate_90d", 0.25, "lowers", "25% of events in the last 90 days were purchases"),
        ("refunds_90d", 2, "raises", "2 refunds in the last 90 days"),
        ("refunds_90d", 0, "lowers", "refund-free in the last 90 days"),
        ("refund_amount_total", 30.0, "raises", "refunded 30.00 in total"),
        ("refund_amount_total", 0.0, "lowers", "refund-free so far"),
        ("days_since_first_event", 12.9, "raises", "customer for only 12 days"),
        ("days_since_first_event", 400.0, "lowers", "customer for 400 days"),
        ("mean_gap_days", 6.25, "raises", "long gaps: 6.2 days between events on average"),
        ("mean_gap_days", 1.5, "lowers", "1.5 days between events on average"),
        ("events_total", 51, "lowers", "51 events in total"),
        ("events_total", 51, "neutral", "51 events in total"),
        ("avg_purchase_value", NAN, "raises", "no purchases yet"),
        ("weekend_share_90d", 0.5, "neutral", "50% of activity at weekends in the last 90 days"),
        ("reactivated_30d", 1, "neutral", "back recently after a long break"),
        ("support_tickets_30d", 3, "raises", "support tickets 30d = 3"),  # generic fallback
        ("support_tickets_30d", NAN, "neutral", "support tickets 30d is missing"),
    ],
)
def test_operator_wording(feature, value, tone, text):
    assert describe(feature, value, tone) == text


def test_only_risk_raising_texts_use_raising_words_and_every_value_reads():
    for feature in FEATURE_SET.columns:
        for value in (NAN, 0.0, 0.4, 1.0, 37.5, -0.4):
            for tone in ("raises", "lowers", "neutral"):
                text = describe(feature, value, tone)
                assert text and "nan" not in text.lower(), (feature, value, tone)
                if tone != "raises":
                    assert not RAISING_WORDS.search(text), (feature, value, tone, text)


def test_joined_codes_match_the_lists_and_rendering_matches_cell_by_cell():
    rng = np.random.default_rng(3)
    n, columns = 400, list(FEATURE_SET.columns)
    values = rng.choice([NAN, 0.0, 1.0, 2.0, 17.3, -0.6], size=(n, len(columns)))
    features = pd.DataFrame(values, columns=columns)
    contributions = pd.DataFrame(rng.normal(size=(n, len(columns))), columns=columns)
    reference = pd.DataFrame([np.full(len(columns), 1.0)], columns=columns)
    lists = reason_codes(features, contributions, 3, reference)
    joined = joined_reason_codes(features, contributions, "; ", 3, reference)
    assert ["; ".join(r) for r in lists] == joined.tolist()
    # Vectorised rendering: each listed text is some feature's risk-raising text for that user.
    for row in range(n):
        texts = {describe(f, features.at[row, f], "raises") for f in columns}
        assert set(lists[row]) <= texts | {MIXED_SIGNALS_TEXT, LOW_RISK_TEXT}


def test_inputs_are_checked():
    features = pd.DataFrame({"events_7d": [1, 2]})
    with pytest.raises(ValueError, match="same users"):
        reason_codes(features, pd.DataFrame({"events_7d": [0.1]}))
    with pytest.raises(KeyError, match="events_30d"):
        reason_codes(features, pd.DataFrame({"events_30d": [0.1, 0.2]}))
    with pytest.raises(ValueError, match="top_k"):
        reason_codes(features, pd.DataFrame({"events_7d": [0.1, 0.2]}), top_k=0)
    with pytest.raises(KeyError, match="reference lacks"):
        reason_codes(features, pd.DataFrame({"events_7d": [0.1, 0.2]}), 3, pd.DataFrame([{}]))
    two_rows = pd.DataFrame({"events_7d": [1.0, 2.0]}, index=["active", "lapsed"])
    with pytest.raises(ValueError, match="populations"):
        reason_codes(features, pd.DataFrame({"events_7d": [0.1, 0.2]}), 3, two_rows)
    with pytest.raises(KeyError, match="dormant"):
        reason_codes(features, features * 0.1, 3, two_rows, ["active", "dormant"])
    assert reason_codes(features.iloc[:0], pd.DataFrame({"events_7d": []})) == []
    assert reason_codes(features, pd.DataFrame({"bias": [1.0, 1.0]})) == [[LOW_RISK_TEXT]] * 2


def test_values_equal_to_1e_9_read_the_same_across_a_rounding_boundary():
    # What DuckDB and Spark give for one average purchase: 1e-12 apart, either side of .085.
    below, above = 16.085 - 1e-12, 16.085 + 1e-12
    assert f"{below:.2f}" != f"{above:.2f}"  # the naive formatting disagrees
    assert describe("avg_purchase_value", below) == describe("avg_purchase_value", above)
