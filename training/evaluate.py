"""Fit one model and its baselines on the same split, and score all of them out of time.

Why a stage of its own: training runs, tuning trials, backtests and promotion all need "fit on
these cutoffs, measure on the OOT report half"; keeping it free of MLflow makes it testable
and reusable, and guarantees model and baselines are always measured on identical rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training.baselines import churn_baselines, value_baselines
from training.config import ExperimentConfig, ModelKind
from training.datasets import ModelData
from training.estimators import ChurnClassifier, ValueRegressor
from training.metrics import CHURN_HEADLINE, VALUE_HEADLINE, churn_metrics, compare, value_metrics

Estimator = ChurnClassifier | ValueRegressor


@dataclass
class Outcome:
    """A fitted model, its baselines and every OOT metric, ready to be logged."""

    kind: ModelKind
    estimator: Estimator
    data: ModelData
    metrics: dict[str, float]
    baseline_metrics: dict[str, dict[str, float]]
    predictions: np.ndarray  # the model's predictions on the OOT report half
    baseline_predictions: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shortfalls(self) -> dict[str, list[str]]:
        """Per baseline, the headline metrics the model fails to beat (empty when it wins)."""
        headline = CHURN_HEADLINE if self.kind == "churn" else VALUE_HEADLINE
        return {
            name: lost
            for name, theirs in self.baseline_metrics.items()
            if (lost := compare(self.metrics, theirs, headline))
        }

    @property
    def beats_baselines(self) -> bool:
        return not self.shortfalls

    def warning(self) -> str | None:
        """A loud, specific sentence when the model loses to a baseline; None when it wins."""
        if self.beats_baselines:
            return None
        parts = [f"{name} ({'; '.join(lost)})" for name, lost in self.shortfalls.items()]
        return (
            f"THE {self.kind.upper()} MODEL DOES NOT BEAT ITS BASELINES out of time: "
            + ", ".join(parts)
        )


def make_estimator(kind: ModelKind, config: ExperimentConfig) -> Estimator:
    """An unfitted estimator configured from the experiment."""
    if kind == "churn":
        c = config.churn
        return ChurnClassifier(
            params=c.params.lightgbm(),
            num_boost_round=c.num_boost_round,
            early_stopping_rounds=c.early_stopping_rounds,
            calibration=c.calibration,
            feature_set_id=config.feature_set,
        )
    v = config.value
    return ValueRegressor(
        params=v.params.lightgbm(),
        num_boost_round=v.num_boost_round,
        early_stopping_rounds=v.early_stopping_rounds,
        tweedie_variance_power=v.tweedie_variance_power,
        feature_set_id=config.feature_set,
    )


def predict(kind: ModelKind, estimator: Any, X: Any) -> np.ndarray:  # noqa: N803
    """Churn probability or predicted value, one number per row, for any of our estimators."""
    if kind == "churn":
        return estimator.predict_proba(X)[:, 1]
    return estimator.predict(X)


def score(kind: ModelKind, y: Any, prediction: np.ndarray) -> dict[str, float]:
    """The metric set for this kind of model."""
    return churn_metrics(y, prediction) if kind == "churn" else value_metrics(y, prediction)


def evaluate(
    data: ModelData,
    config: ExperimentConfig,
    estimator: Estimator | None = None,
    callbacks: list[Callable[..., Any]] | None = None,
    with_baselines: bool = True,
) -> Outcome:
    """Fit the model (early stopping/calibration on the OOT fit half) and the baselines on the
    training cutoffs; score all on the OOT report half."""
    kind = data.kind
    model = estimator if estimator is not None else make_estimator(kind, config)
    model.fit(data.X_train, data.y_train, data.X_fit, data.y_fit, callbacks=callbacks)
    predictions = predict(kind, model, data.X_report)
    metrics = score(kind, data.y_report, predictions)
    metrics["best_iteration"] = float(model.best_iteration_)
    baseline_metrics: dict[str, dict[str, float]] = {}
    baseline_predictions: dict[str, np.ndarray] = {}
    if with_baselines:
        horizon = config.windows.value_horizon_days
        baselines = churn_baselines() if kind == "churn" else value_baselines(horizon)
        for name, baseline in baselines.items():
            baseline.fit(data.X_train, data.y_train)
            baseline_predictions[name] = predict(kind, baseline, data.X_report)
            baseline_metrics[name] = score(kind, data.y_report, baseline_predictions[name])
    return Outcome(
        kind=kind,
        estimator=model,
        data=data,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        predictions=predictions,
        baseline_predictions=baseline_predictions,
    )
