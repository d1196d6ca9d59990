"""Model tests on simulated data: out-of-time quality against baselines, calibration, behaviour.

Bounds are stated, not tuned to one run: the simulator has a real churn process driven by
recency and engagement, so a working model must rank churners better than recency alone and
than a logistic regression on RFM features, and its calibrated probabilities must be within
5 points of the observed rates on average (ECE ≤ 0.05) on rows the calibrator never saw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.config import ExperimentConfig
from training.datasets import TrainingData
from training.evaluate import Outcome, evaluate

ECE_BOUND = 0.05


@pytest.fixture(scope="module")
def churn(training_data: TrainingData, config: ExperimentConfig) -> Outcome:
    return evaluate(training_data.for_model("churn"), config)


@pytest.fixture(scope="module")
def value(training_data: TrainingData, config: ExperimentConfig) -> Outcome:
    return evaluate(training_data.for_model("value"), config)


def test_churn_model_beats_both_baselines_out_of_time(churn: Outcome) -> None:
    assert set(churn.baseline_metrics) == {"recency_rule", "rfm_logreg"}
    for name, theirs in churn.baseline_metrics.items():
        for metric in ("roc_auc", "pr_auc"):
            assert churn.metrics[metric] > theirs[metric], (name, metric)
    assert churn.beats_baselines and churn.warning() is None


def test_churn_probabilities_are_calibrated_out_of_time(churn: Outcome) -> None:
    assert churn.metrics["ece"] <= ECE_BOUND
    observed = churn.data.y_report.mean()
    assert abs(churn.predictions.mean() - observed) < 0.05
    assert ((churn.predictions >= 0) & (churn.predictions <= 1)).all()


def test_metrics_are_measured_on_the_report_half_only(churn: Outcome) -> None:
    data = churn.data
    assert churn.metrics["rows"] == len(data.X_report)
    fit_users = set(data.report_keys["user_id"])
    assert len(fit_users) == len(data.report_keys)  # one row per user at the OOT cutoff
    assert (data.report_keys["as_of"] == data.oot_cutoff).all()


def _active_rows(outcome: Outcome) -> pd.DataFrame:
    frame = outcome.data.X_report
    return frame[frame["days_since_last_event"].notna()]


def test_more_recent_activity_lowers_churn_risk(churn: Outcome) -> None:
    rows = _active_rows(churn)
    before = churn.estimator.churn_probability(rows)
    staler = rows.assign(days_since_last_event=rows["days_since_last_event"] + 30)
    after = churn.estimator.churn_probability(staler)
    assert after.mean() > before.mean() + 0.05
    assert (after >= before - 1e-9).mean() >= 0.9


def test_more_past_spend_raises_predicted_value(value: Outcome) -> None:
    rows = value.data.X_report
    before = value.estimator.predict(rows)
    spend = ["revenue_total", "revenue_90d", "revenue_30d", "avg_purchase_value"]
    richer = rows.assign(**{column: rows[column] * 3 for column in spend})
    after = value.estimator.predict(richer)
    assert after.mean() > before.mean() * 1.2
    assert (after >= before - 1e-9).mean() >= 0.9


def test_value_model_ranks_value_better_than_last_period_spend(value: Outcome) -> None:
    baseline = value.baseline_metrics["last_period_spend"]
    assert value.metrics["gini"] > baseline["gini"]
    assert value.metrics["top10_share"] >= baseline["top10_share"]
    assert value.metrics["decile_mape"] < baseline["decile_mape"]
    assert np.isfinite(value.predictions).all() and (value.predictions >= 0).all()


def test_a_model_that_loses_to_a_baseline_says_so(churn: Outcome) -> None:
    beaten = churn.baseline_metrics["rfm_logreg"] | {"roc_auc": 0.999, "pr_auc": 0.999}
    loser = Outcome(
        kind="churn",
        estimator=churn.estimator,
        data=churn.data,
        metrics=churn.metrics,
        baseline_metrics={"rfm_logreg": beaten},
        predictions=churn.predictions,
    )
    assert not loser.beats_baselines
    warning = loser.warning()
    assert warning is not None and "DOES NOT BEAT" in warning and "rfm_logreg" in warning
    assert "roc_auc" in warning and "pr_auc" in warning
