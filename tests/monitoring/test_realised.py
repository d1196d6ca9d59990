"""Realised quality of recorded scores, checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from monitoring import (
    MonitorThresholds,
    compare_with_training,
    equal_mass_ece,
    labels_complete,
    realised_metrics,
    realised_quality,
)


def _pairwise_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC as the share of (churner, stayer) pairs ranked right, ties counting half."""
    pos, neg = p[y == 1], p[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def _frames(y, p, value=None, pred=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"u{i}" for i in range(len(y))]
    scores = pd.DataFrame({"user_id": ids, "churn_probability": p})
    labels = pd.DataFrame({"user_id": ids, "churned": y})
    if value is not None:
        scores["predicted_value"], labels["future_value"] = pred, value
    return scores, labels


def test_roc_auc_matches_two_independent_computations() -> None:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 500)
    p = np.round(np.clip(0.3 * y + rng.uniform(size=500) * 0.7, 0, 1), 2)  # rounded: ties
    metrics = realised_metrics(*_frames(y, p))
    assert metrics["churn_roc_auc"] == pytest.approx(_pairwise_auc(y, p), abs=1e-12)
    assert metrics["churn_roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics["churn_rows"] == 500


def test_top_decile_lift_by_hand() -> None:
    # 20 users, scored 20 (riskiest) down to 1; the top 10% are the two riskiest: one churned.
    # 4 churners in all: base rate 0.2, top-decile rate 0.5, lift 2.5.
    p = np.arange(20, 0, -1) / 20
    y = np.array([1, 0, 0, 1, 0, 0, 1, 0, 0, 1] + [0] * 10)
    assert realised_metrics(*_frames(y, p))["churn_lift_at_10"] == pytest.approx(2.5)


def test_equal_width_ece_by_hand() -> None:
    # Bins of width 0.1: {0.05} → |0.05 − 0|, {0.15, 0.12} → |0.135 − 0.5|, {0.95} → |0.95 − 1|.
    y, p = np.array([0, 0, 1, 1]), np.array([0.05, 0.15, 0.12, 0.95])
    expected = 0.25 * 0.05 + 0.5 * 0.365 + 0.25 * 0.05
    assert realised_metrics(*_frames(y, p))["churn_ece"] == pytest.approx(expected)


def test_equal_mass_ece_by_hand() -> None:
    # Two groups of two by rank: mean p 0.15 vs rate 0, mean p 0.35 vs rate 1.
    assert equal_mass_ece([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], bins=2) == pytest.approx(
        0.5 * 0.15 + 0.5 * 0.65
    )
    # Five rows in two groups: sizes 3 and 2 (array_split), input order shuffled.
    y, p = [1, 0, 1, 0, 1], [0.9, 0.1, 0.2, 0.3, 0.8]
    expected = 3 / 5 * abs(0.2 - 1 / 3) + 2 / 5 * abs(0.85 - 1.0)
    assert equal_mass_ece(y, p, bins=2) == pytest.approx(expected)
    assert math.isnan(equal_mass_ece([], []))


def test_value_figures_by_hand_and_independently() -> None:
    # Predictions in exactly the wrong order: Gini −1; mean prediction 2 vs mean actual 10/3.
    y, p = [0, 1, 1], [0.2, 0.6, 0.7]
    value, pred = [0.0, 0.0, 10.0], [3.0, 2.0, 1.0]
    metrics = realised_metrics(*_frames(y, p, value, pred))
    assert metrics["value_gini"] == pytest.approx(-1.0)
    assert metrics["value_bias"] == pytest.approx(2 / (10 / 3) - 1)
    # Spearman: the Pearson correlation of the ranks, computed here without scipy.
    rng = np.random.default_rng(1)
    value, noise = rng.gamma(1, 50, 300), rng.gamma(1, 50, 300)
    y, p = rng.integers(0, 2, 300), rng.uniform(size=300)
    metrics = realised_metrics(*_frames(y, p, value, value + noise))
    expected = np.corrcoef(pd.Series(value).rank(), pd.Series(value + noise).rank())[0, 1]
    assert metrics["value_spearman"] == pytest.approx(expected)


def test_only_labelled_and_scored_users_count() -> None:
    scores = pd.DataFrame({"user_id": [1, 2, 3, 4], "churn_probability": [0.9, 0.8, 0.1, 0.5]})
    # Ids compared as text; user 3 was lapsed (no churn label); user 4 has no labels at all.
    labels = pd.DataFrame({"user_id": ["1", "2", "3", "9"], "churned": [1, 0, None, 1]})
    metrics = realised_metrics(scores, labels)
    assert metrics["matched_rows"] == 3 and metrics["unmatched_scores"] == 1
    assert metrics["churn_rows"] == 2
    assert metrics["churn_roc_auc"] == 1.0
    assert "value_spearman" not in metrics  # the value horizon has not passed: no labels


def test_duplicate_users_are_refused() -> None:
    scores = pd.DataFrame({"user_id": ["a", "a"], "churn_probability": [0.1, 0.2]})
    with pytest.raises(ValueError, match="more than once"):
        realised_metrics(scores, pd.DataFrame({"user_id": ["a"], "churned": [1]}))


@pytest.mark.parametrize(
    ("realised_auc", "status"), [(0.78, "ok"), (0.76, "warning"), (0.72, "critical")]
)
def test_roc_auc_decay_is_graded(realised_auc: float, status: str) -> None:
    realised = {"churn_roc_auc": realised_auc, "churn_rows": 1_000.0}
    (check,) = compare_with_training(realised, {"roc_auc": 0.80})
    assert check.status == status
    assert check.reference == 0.80


def test_ece_rise_spearman_drop_and_bias() -> None:
    realised = {
        "churn_ece": 0.09,
        "churn_rows": 1_000.0,
        "value_spearman": 0.50,
        "value_gini": 0.58,
        "value_bias": -0.30,
        "value_rows": 1_000.0,
    }
    training_value = {"spearman": 0.62, "gini": 0.60, "bias": 0.01}
    checks = {c.name: c for c in compare_with_training(realised, {"ece": 0.03}, training_value)}
    assert checks["churn_ece"].status == "critical"  # +0.06
    assert checks["value_spearman"].status == "critical"  # −0.12
    assert checks["value_gini"].status == "ok"  # −0.02
    assert checks["value_bias"].status == "warning"  # |−0.30| ≥ 0.25


def test_better_than_training_is_ok_and_missing_evidence_is_not_judged() -> None:
    better = compare_with_training({"churn_roc_auc": 0.9, "churn_rows": 500.0}, {"roc_auc": 0.8})
    assert better[0].status == "ok"
    few = compare_with_training({"churn_roc_auc": 0.5, "churn_rows": 20.0}, {"roc_auc": 0.8})
    assert few[0].status == "ok" and "not judged" in few[0].detail
    untrained = compare_with_training({"churn_roc_auc": 0.5, "churn_rows": 500.0}, None)
    assert untrained[0].status == "ok" and "no training figure" in untrained[0].detail
    one_class = compare_with_training(
        {"churn_roc_auc": float("nan"), "churn_rows": 500.0}, {"roc_auc": 0.8}
    )
    assert one_class[0].status == "ok" and one_class[0].as_dict()["value"] is None


def test_realised_quality_end_to_end() -> None:
    rng = np.random.default_rng(21)
    n = 2_000
    risk = rng.uniform(size=n)
    y = (rng.uniform(size=n) < risk).astype(int)  # calibrated by construction
    run = realised_quality(
        *_frames(y, risk),
        scored_as_of=pd.Timestamp("2024-01-01").date(),
        churn_training={"roc_auc": roc_auc_score(y, risk), "ece": 0.02},
        thresholds=MonitorThresholds(),
    )
    assert run.status == "ok"
    data = run.as_dict()
    assert data["scored_as_of"] == "2024-01-01"
    assert data["churn_roc_auc"] == pytest.approx(roc_auc_score(y, risk))
    assert data["churn_ece_equal_mass"] < 0.05


def test_labels_complete_only_once_the_horizon_has_passed() -> None:
    assert labels_complete("2024-01-01", 30, "2024-01-31")
    assert not labels_complete("2024-01-01", 30, "2024-01-30")
    assert labels_complete("2024-01-01", 30, pd.Timestamp("2024-02-01", tz="UTC"))
