"""Out-of-time metrics on tiny inputs whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.metrics import (
    auc_difference_interval,
    bias,
    churn_metrics,
    compare,
    decile_calibration,
    decile_mape,
    expected_calibration_error,
    lift_and_recall_at,
    normalized_gini,
    recall_metrics,
    top_share,
    value_metrics,
)
from training.weighted_auc import weighted_roc_auc


def test_expected_calibration_error_by_hand() -> None:
    # Bin 0.1-0.2: p=0.15 twice, observed 0/2 -> |0.15-0| = 0.15, weight 0.5.
    # Bin 0.8-0.9: p=0.85 twice, observed 2/2 -> |0.85-1| = 0.15, weight 0.5.
    y = np.array([0, 0, 1, 1])
    p = np.array([0.15, 0.15, 0.85, 0.85])
    assert expected_calibration_error(y, p) == pytest.approx(0.15)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.0)


def test_lift_and_recall_in_the_top_tenth() -> None:
    # 20 users, 4 churners; the top 10% (2 users) are both churners.
    y = np.array([1, 1, 1, 1] + [0] * 16)
    score = np.array([0.9, 0.8, 0.1, 0.1] + [0.2] * 16)
    lift, recall = lift_and_recall_at(y, score)
    assert lift == pytest.approx(1.0 / 0.2)  # churn rate 100% in the top vs 20% overall
    assert recall == pytest.approx(2 / 4)


def test_churn_metrics_perfect_and_reversed_ranking() -> None:
    y = np.array([0, 0, 0, 1, 1])
    perfect = churn_metrics(y, np.array([0.1, 0.2, 0.3, 0.8, 0.9]))
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == 1.0
    reversed_ = churn_metrics(y, np.array([0.9, 0.8, 0.7, 0.2, 0.1]))
    assert reversed_["roc_auc"] == 0.0
    assert perfect["brier"] == pytest.approx((0.01 + 0.04 + 0.09 + 0.04 + 0.01) / 5)
    assert math.isnan(churn_metrics(np.zeros(3), np.array([0.1, 0.2, 0.3]))["roc_auc"])


def test_normalized_gini_is_one_for_the_perfect_order_and_negative_reversed() -> None:
    y = np.array([0.0, 0.0, 10.0, 50.0, 100.0])
    assert normalized_gini(y, y) == pytest.approx(1.0)
    assert normalized_gini(y, y * 2 + 1) == pytest.approx(1.0)  # only the order matters
    assert normalized_gini(y, -y) < 0
    assert math.isnan(normalized_gini(np.zeros(4), np.arange(4.0)))


def test_top_share_and_decile_mape() -> None:
    y = np.array([100.0] + [0.0] * 9)
    assert top_share(y, np.arange(10.0)[::-1]) == pytest.approx(1.0)  # user 0 ranked first
    assert top_share(y, np.arange(10.0)) == pytest.approx(0.0)
    # Ten users, one per decile, predicted 10% too high everywhere -> MAPE 0.1.
    actual = np.arange(1.0, 11.0)
    assert decile_mape(actual, actual * 1.1) == pytest.approx(0.1)


def test_value_metrics_constant_prediction_has_no_rank_correlation() -> None:
    metrics = value_metrics(np.array([0.0, 5.0, 10.0]), np.array([3.0, 3.0, 3.0]))
    assert math.isnan(metrics["spearman"])
    assert metrics["mae"] == pytest.approx((3 + 2 + 7) / 3)


def test_compare_names_each_headline_metric_the_model_loses_on() -> None:
    model = {"roc_auc": 0.80, "pr_auc": 0.50, "brier": 0.20}
    baseline = {"roc_auc": 0.70, "pr_auc": 0.55, "brier": 0.10}
    assert compare(model, baseline, ("roc_auc",)) == []
    lost = compare(model, baseline, ("roc_auc", "pr_auc", "brier"))
    assert [item.split()[0] for item in lost] == ["pr_auc", "brier"]


def test_auc_difference_interval_is_zero_width_for_identical_scores_and_orders_rivals() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.5).astype(float)
    strong = y + rng.normal(0, 0.5, 400)
    weak = y + rng.normal(0, 3.0, 400)
    assert auc_difference_interval(y, strong, strong, resamples=50) == (0.0, 0.0)
    low, high = auc_difference_interval(y, strong, weak, resamples=200)
    assert 0 < low < high  # clearly better: the whole interval is above zero
    flipped = auc_difference_interval(y, weak, strong, resamples=200)
    assert flipped == pytest.approx((-high, -low))  # same resamples, the sign reversed


def test_the_interval_is_scikit_learns_auc_on_each_resample() -> None:
    """The same interval as drawing each resample's rows and asking scikit-learn for both AUCs
    (the independent method, and the implementation this replaced), ties included."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    y = (rng.random(300) < 0.3).astype(float)
    ours, theirs = np.round(y + rng.random(300), 1), np.round(0.5 * y + rng.random(300), 1)
    draws = np.random.default_rng(7)
    differences = []
    for _ in range(40):
        weight = np.bincount(draws.integers(0, 300, 300), minlength=300)
        differences.append(
            roc_auc_score(y, ours, sample_weight=weight)
            - roc_auc_score(y, theirs, sample_weight=weight)
        )
    expected = np.quantile(differences, [0.025, 0.975])
    assert auc_difference_interval(y, ours, theirs, resamples=40, seed=7) == pytest.approx(
        tuple(expected), abs=1e-12
    )


def test_weighted_auc_is_scikit_learns_with_sample_weights() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(11)
    y = (rng.random(200) < 0.4).astype(float)
    score = np.round(rng.random(200) + 0.3 * y, 1)  # many ties
    weights = rng.integers(0, 4, (5, 200)).astype(float)
    expected = [roc_auc_score(y, score, sample_weight=w) for w in weights]
    assert weighted_roc_auc(y, score, weights) == pytest.approx(expected, abs=1e-12)
    # By hand: positives at 0.9 and 0.5, negatives at 0.5 and 0.1 -> (2 + 1.5) / 4.
    assert weighted_roc_auc(
        np.array([1, 1, 0, 0]), np.array([0.9, 0.5, 0.5, 0.1]), np.ones((1, 4))
    ) == pytest.approx([0.875])
    no_negatives = weighted_roc_auc(np.array([1, 1, 0]), np.array([0.2, 0.4, 0.3]), [[1, 1, 0]])
    assert np.isnan(no_negatives).all()


def test_bias_and_decile_calibration_by_hand() -> None:
    y = np.arange(20, dtype=float)  # mean 9.5
    pred = y * 0.8  # everything 20% low, ranked perfectly
    assert bias(y, pred) == pytest.approx(-0.2)
    assert value_metrics(y, pred)["bias"] == pytest.approx(-0.2)
    table = decile_calibration(y, pred)
    assert list(table["decile"]) == list(range(1, 11)) and (table["rows"] == 2).all()
    assert table.loc[0, "actual"] == 0.5 and table.loc[0, "predicted"] == pytest.approx(0.4)
    assert table.loc[9, "actual"] == 18.5 and table.loc[9, "predicted"] == pytest.approx(14.8)
    assert math.isnan(bias(np.zeros(3), np.ones(3)))


def test_recall_metrics_name_the_return_rate() -> None:
    metrics = recall_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]))
    assert metrics["return_rate"] == 0.5 and "churn_rate" not in metrics
    assert metrics["roc_auc"] == 1.0
