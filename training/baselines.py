"""Simple baselines that every run must beat, fitted and scored on the same rows as the model.

Why: a gradient-boosted model that cannot beat "who has been away longest" or "last quarter's
spend" is not worth its complexity; logging the baselines beside every model keeps that
question answered on every run, not only on the day the model was first built.

- `RecencyRule` (churn, recall): risk rises with days since the last event, nothing else (for
  recall, the chance of coming back falls with it). The rule's probabilities are the
  training-period rate at each recency, learned by a monotone isotonic fit, so Brier score and
  calibration error are comparable with the model's.
- `RFMLogisticRegression` (churn, recall): logistic regression on recency, frequency and monetary
  features (log-transformed, standardised, missing values imputed by the median).
- `LastPeriodSpend` (value): the last period's spend carried forward, i.e. revenue over the
  90 days before the cutoff scaled to the value horizon (`revenue_90d × horizon / 90`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

RECENCY = "days_since_last_event"
RFM_FEATURES: tuple[str, ...] = (
    "days_since_last_event",  # recency
    "events_30d",  # frequency
    "events_90d",
    "active_days_30d",
    "purchases_90d",
    "revenue_90d",  # monetary
    "revenue_total",
)
_NEVER_ACTIVE_DAYS = 10_000.0


def _signed_log1p(values: np.ndarray) -> np.ndarray:
    """log1p that keeps the sign (revenue can be negative after refunds)."""
    return np.sign(values) * np.log1p(np.abs(values))


class RecencyRule(ClassifierMixin, BaseEstimator):
    """Outcome probability as a monotone function of days since the last event.

    `increasing=True` (churn): staler users churn more; False (recall): staler lapsed users
    come back less.
    """

    def __init__(self, increasing: bool = True) -> None:
        self.increasing = increasing

    def fit(self, X: pd.DataFrame, y: pd.Series | np.ndarray) -> RecencyRule:  # noqa: N803
        """Learn the outcome rate by recency on the training cutoffs."""
        self.classes_ = np.array([0, 1])
        self.isotonic_ = IsotonicRegression(
            y_min=0.0, y_max=1.0, increasing=self.increasing, out_of_bounds="clip"
        )
        self.isotonic_.fit(self._recency(X), np.asarray(y, dtype=float))
        return self

    @staticmethod
    def _recency(X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return X[RECENCY].fillna(_NEVER_ACTIVE_DAYS).to_numpy(dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        p = self.isotonic_.predict(self._recency(X))
        return np.column_stack([1.0 - p, p])


class RFMLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression on recency, frequency and monetary features."""

    def __init__(self, features: tuple[str, ...] = RFM_FEATURES, C: float = 1.0) -> None:  # noqa: N803
        self.features = features
        self.C = C

    def fit(self, X: pd.DataFrame, y: pd.Series | np.ndarray) -> RFMLogisticRegression:  # noqa: N803
        self.pipeline_: Pipeline = make_pipeline(
            SimpleImputer(strategy="median"),
            FunctionTransformer(_signed_log1p),
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=1000),
        )
        self.pipeline_.fit(X[list(self.features)], np.asarray(y, dtype=int))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self.pipeline_.predict_proba(X[list(self.features)])


class LastPeriodSpend(RegressorMixin, BaseEstimator):
    """Future value = the last 90 days' revenue, scaled to the value horizon."""

    def __init__(self, horizon_days: int = 90) -> None:
        self.horizon_days = horizon_days

    def fit(self, X: pd.DataFrame, y: pd.Series | np.ndarray | None = None) -> LastPeriodSpend:  # noqa: N803
        self.scale_ = self.horizon_days / 90.0  # nothing to learn: a rule, kept sklearn-shaped
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return X["revenue_90d"].fillna(0.0).to_numpy(dtype=float) * self.scale_


def churn_baselines() -> dict[str, BaseEstimator]:
    """The churn baselines by the name they are logged under."""
    return {"recency_rule": RecencyRule(), "rfm_logreg": RFMLogisticRegression()}


def recall_baselines() -> dict[str, BaseEstimator]:
    """The recall baselines: the same rules, with the chance of return falling with recency."""
    return {"recency_rule": RecencyRule(increasing=False), "rfm_logreg": RFMLogisticRegression()}


def value_baselines(horizon_days: int) -> dict[str, BaseEstimator]:
    """The value baselines by the name they are logged under."""
    return {"last_period_spend": LastPeriodSpend(horizon_days)}
