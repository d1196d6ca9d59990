"""Fit one model and its baselines on the same split, and score all of them out of time.

Why a stage of its own: training runs, tuning trials, backtests and promotion all need "fit on
these cutoffs, measure on the OOT report half"; keeping it free of MLflow makes it testable
and reusable, and guarantees model and baselines are always measured on identical rows.
The model it returns is what would be registered: LightGBM stacked with the baselines on the
OOT fit half (`training.stacking`, `training.value_stacking`), or LightGBM alone where that wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.baselines import churn_baselines, recall_baselines, value_baselines
from training.config import ExperimentConfig, ModelKind
from training.datasets import ModelData
from training.estimators import ChurnClassifier, RecallClassifier, ValueRegressor
from training.metrics import (
    CHURN_HEADLINE,
    VALUE_HEADLINE,
    churn_metrics,
    compare,
    recall_metrics,
    value_metrics,
)
from training.stack_terms import LIGHTGBM
from training.stacking import StackedChurnClassifier, StackedRecallClassifier, StackSummary
from training.value_diagnostics import value_diagnostics
from training.value_stacking import StackedValueRegressor

Estimator = ChurnClassifier | RecallClassifier | ValueRegressor
CLASSIFIERS: tuple[ModelKind, ...] = ("churn", "recall")
HEADLINE: dict[ModelKind, tuple[str, ...]] = {
    "churn": CHURN_HEADLINE,
    "recall": CHURN_HEADLINE,
    "value": VALUE_HEADLINE,
}


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
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # logged as CSV with the run
    stack: StackSummary | None = None  # what stacking chose on the fit half (None: not stacked)

    @property
    def shortfalls(self) -> dict[str, list[str]]:
        """Per baseline, the headline metrics the model fails to beat (empty when it wins)."""
        headline = HEADLINE[self.kind]
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
    if kind in CLASSIFIERS:
        c = config.churn if kind == "churn" else config.recall
        classifier = ChurnClassifier if kind == "churn" else RecallClassifier
        return classifier(
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
        calibration=v.calibration,
        outcome_params=v.outcome_params.lightgbm(),
        feature_set_id=config.feature_set,
    )


def predict(kind: ModelKind, estimator: Any, X: Any) -> np.ndarray:  # noqa: N803
    """Churn or return probability, or unconditional predicted value, one number per row."""
    if kind in CLASSIFIERS:
        return estimator.predict_proba(X)[:, 1]
    return estimator.predict(X)


def score(kind: ModelKind, y: Any, prediction: np.ndarray) -> dict[str, float]:
    """The metric set for this kind of model."""
    if kind == "churn":
        return churn_metrics(y, prediction)
    if kind == "recall":
        return recall_metrics(y, prediction)
    return value_metrics(y, prediction)


def baselines_for(kind: ModelKind, config: ExperimentConfig) -> dict[str, Any]:
    """Fresh baselines for this kind of model, by the name they are logged under."""
    if kind == "churn":
        return churn_baselines()
    if kind == "recall":
        return recall_baselines()
    return value_baselines(config.windows.value_horizon_days)


def stack_members(
    kind: ModelKind, model: Estimator, baselines: dict[str, Any], data: ModelData
) -> tuple[Any, StackSummary | None]:
    """The model stacked with the fitted `baselines` on the OOT fit half (training.stacking),
    or the model itself when LightGBM alone wins there; with what the stack chose.

    A value model without the `lost` outcome has no heads to blend and is returned as it is.
    """
    if kind == "value":
        if data.lost_fit is None or not getattr(model, "conditional", False):
            return model, None
        stack: Any = StackedValueRegressor(model)
        stack.fit(data.X_fit, data.y_fit, data.lost_fit, baselines)
    else:
        stacked = StackedChurnClassifier if kind == "churn" else StackedRecallClassifier
        stack = stacked(model, getattr(model, "calibration", "sigmoid"), kind)
        stack.fit(data.X_fit, data.y_fit, baselines)
    summary = stack.summary()
    summary.lightgbm_report_metrics = score(
        kind, data.y_report, predict(kind, model, data.X_report)
    )
    return (model if summary.choice == LIGHTGBM else stack), summary


def evaluate(
    data: ModelData,
    config: ExperimentConfig,
    estimator: Estimator | None = None,
    callbacks: list[Callable[..., Any]] | None = None,
    with_baselines: bool = True,
    stack: bool = True,
) -> Outcome:
    """Fit the model (early stopping/calibration on the OOT fit half) and the baselines on the
    training cutoffs, stack them on the OOT fit half (unless `stack` is False or there are no
    baselines), and score all on the OOT report half."""
    kind = data.kind
    model: Any = estimator if estimator is not None else make_estimator(kind, config)
    model.fit(
        data.X_train,
        data.y_train,
        data.X_fit,
        data.y_fit,
        callbacks=callbacks,
        **data.fit_outcomes(),
    )
    baselines = baselines_for(kind, config) if with_baselines else {}
    for baseline in baselines.values():
        baseline.fit(data.X_train, data.y_train)
    summary = None
    if stack and baselines:
        model, summary = stack_members(kind, model, baselines, data)
    predictions = predict(kind, model, data.X_report)
    metrics = score(kind, data.y_report, predictions)
    metrics["best_iteration"] = float(model.best_iteration_)
    tables: dict[str, pd.DataFrame] = {}
    if kind == "value":
        extra, tables = value_diagnostics(model, data, predictions)
        metrics.update(extra)
    baseline_predictions = {
        name: predict(kind, baseline, data.X_report) for name, baseline in baselines.items()
    }
    baseline_metrics = {
        name: score(kind, data.y_report, values) for name, values in baseline_predictions.items()
    }
    return Outcome(
        kind=kind,
        estimator=model,
        data=data,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        predictions=predictions,
        baseline_predictions=baseline_predictions,
        tables=tables,
        stack=summary,
    )
