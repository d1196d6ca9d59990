"""The members a stack combines, each as a function of the served feature row only.

Why this restriction: a stack is served exactly like a LightGBM model (one pickled estimator,
one feature row in, one number out, on DuckDB, Spark and the service), so a member may only use
what that row holds. That rules in:

- `lightgbm`: the boosted model's raw score (log-odds) and its TreeSHAP contributions;
- `rfm_logreg`: the RFM logistic regression's linear score coef·z(x) + intercept, where z is
  its own imputation, signed log and standardisation. Its contributions coef_j·z_j are exact
  and additive, relative to the training rows (on which z has mean zero);
- `recency_rule`: the log-odds of the isotonic recency rule, all of it credited to
  `days_since_last_event`;
- `bgnbd`: BG/NBD's P(no purchase within the churn horizon), or BG/NBD × Gamma-Gamma's expected
  spend, where the feature set carries them (`clv_churn_probability`, `clv_expected_value`:
  `behavioural_v2` fits them point-in-time at every cutoff). Under `behavioural_v1` the row
  lacks them and BG/NBD cannot be served: the model needs the raw transactions.

A one-column member's contributions are its log-odds minus their mean over the rows it was
referenced on (the OOT fit half), credited to that column; the mean goes to `bias`. So every
member's contributions add up to its log-odds, row by row, and so do the stack's.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from training.baselines import RECENCY, LastPeriodSpend, RecencyRule, RFMLogisticRegression

LIGHTGBM = "lightgbm"
BGNBD = "bgnbd"
CLV_CHURN_COLUMN = "clv_churn_probability"
CLV_VALUE_COLUMN = "clv_expected_value"
BIAS = "bias"
_EDGE = 1e-4  # probabilities are clipped to [_EDGE, 1 − _EDGE] before the logit


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 − p)) of probabilities clipped away from 0 and 1 (isotonic rules reach them)."""
    clipped = np.clip(np.asarray(p, dtype=float), _EDGE, 1.0 - _EDGE)
    return np.log(clipped) - np.log1p(-clipped)


class ClassifierTerm(Protocol):
    """A stack member in log-odds space."""

    def log_odds(self, X: pd.DataFrame) -> np.ndarray: ...  # noqa: N803

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame: ...  # noqa: N803


class BoostedTerm:
    """The LightGBM model's raw score and exact TreeSHAP contributions."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self.model.raw_score(X)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        return self.model.contributions(X)


class RfmTerm:
    """The fitted RFM logistic regression as a linear score with per-feature contributions."""

    def __init__(self, model: RFMLogisticRegression) -> None:
        self.model = model

    def _linear(self, X: pd.DataFrame) -> tuple[np.ndarray, float]:  # noqa: N803
        pipeline = self.model.pipeline_
        z = pipeline[:-1].transform(X[list(self.model.features)])
        regression = pipeline[-1]
        return np.asarray(z) * regression.coef_[0], float(regression.intercept_[0])

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        parts, intercept = self._linear(X)
        return parts.sum(axis=1) + intercept

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        parts, intercept = self._linear(X)
        frame = pd.DataFrame(parts, columns=list(self.model.features), index=X.index)
        frame[BIAS] = intercept
        return frame


class _OneColumnTerm:
    """A member driven by one feature column; `reference_` is its mean log-odds (bias)."""

    column: str
    reference_: float = 0.0

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        raise NotImplementedError

    def set_reference(self, X: pd.DataFrame) -> None:  # noqa: N803
        """Centre the contributions on these rows (the OOT fit half)."""
        self.reference_ = float(np.mean(self.log_odds(X)))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        return pd.DataFrame(
            {self.column: self.log_odds(X) - self.reference_, BIAS: self.reference_},
            index=X.index,
        )


class RecencyTerm(_OneColumnTerm):
    """The isotonic recency rule's log-odds (churn rises, or return falls, with recency)."""

    column = RECENCY

    def __init__(self, model: RecencyRule) -> None:
        self.model = model

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return logit(self.model.predict_proba(X)[:, 1])


class ProbabilityColumnTerm(_OneColumnTerm):
    """A probability the feature row already holds (BG/NBD's), as log-odds.

    `sign` −1 turns P(no purchase) into P(purchase) for the recall model. Users the BG/NBD
    summary does not cover (no purchase before the cutoff) have no value; they get `fill_`,
    the median log-odds of the covered rows the term was fitted on.
    """

    def __init__(self, column: str, sign: float = 1.0) -> None:
        self.column = column
        self.sign = sign
        self.fill_ = 0.0

    def fit(self, X: pd.DataFrame) -> ProbabilityColumnTerm:  # noqa: N803
        known = X[self.column].dropna().to_numpy(dtype=float)
        self.fill_ = float(np.median(self.sign * logit(known))) if known.size else 0.0
        return self

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        values = X[self.column].to_numpy(dtype=float)
        odds = self.sign * logit(np.nan_to_num(values, nan=0.5))
        return np.where(np.isnan(values), self.fill_, odds)


def classifier_terms(
    kind: str,
    model: Any,
    baselines: dict[str, Any],
    X_fit: pd.DataFrame,  # noqa: N803
) -> dict[str, ClassifierTerm]:
    """The servable members of a churn or recall stack, LightGBM first, by logged name."""
    terms: dict[str, ClassifierTerm] = {LIGHTGBM: BoostedTerm(model)}
    columns = set(X_fit.columns)
    for name, baseline in baselines.items():
        if isinstance(baseline, RFMLogisticRegression) and set(baseline.features) <= columns:
            terms[name] = RfmTerm(baseline)
        elif isinstance(baseline, RecencyRule) and RECENCY in columns:
            terms[name] = RecencyTerm(baseline)
    if CLV_CHURN_COLUMN in columns:
        terms[BGNBD] = ProbabilityColumnTerm(CLV_CHURN_COLUMN, 1.0 if kind == "churn" else -1.0)
        terms[BGNBD].fit(X_fit)
    for term in terms.values():
        if isinstance(term, _OneColumnTerm):
            term.set_reference(X_fit)
    return terms


class FeatureValue:
    """A value already in the feature row (BG/NBD × Gamma-Gamma's expected spend); 0 if absent."""

    def __init__(self, column: str) -> None:
        self.column = column

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return X[self.column].fillna(0.0).to_numpy(dtype=float)


def value_terms(
    baselines: dict[str, Any],
    X_fit: pd.DataFrame,  # noqa: N803
) -> dict[str, tuple[Any, str]]:
    """The servable value baselines as (predictor, the one column it reads), by logged name."""
    terms: dict[str, tuple[Any, str]] = {}
    for name, baseline in baselines.items():
        if isinstance(baseline, LastPeriodSpend) and "revenue_90d" in X_fit.columns:
            terms[name] = (baseline, "revenue_90d")
    if CLV_VALUE_COLUMN in X_fit.columns:
        terms[BGNBD] = (FeatureValue(CLV_VALUE_COLUMN), CLV_VALUE_COLUMN)
    return terms
