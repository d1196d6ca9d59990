"""The two models, as scikit-learn-style estimators around LightGBM boosters.

`ChurnClassifier`: binary LightGBM with early stopping on out-of-time rows, then a calibrator
fitted on the predictions for those same out-of-time rows.
  Why calibrate on the OOT fit half: churn rates drift between cutoffs, and the probabilities
  must be right for "now", not for the training period, so the calibrator learns on the most
  recent labelled cutoff. Early stopping uses the same rows (it only picks the number of
  trees, a mild optimism). Neither ever sees the OOT *report* half (`training.datasets`), on
  which every reported metric is computed, so reported metrics are out of sample for both.
  The registered model is this fitted model: it is not refitted on the OOT rows afterwards,
  so what is registered is exactly what was evaluated.

`ValueRegressor`: LightGBM with a Tweedie objective. Future spend is zero for most users and
heavy-tailed for the rest; Tweedie (compound Poisson–gamma, log link) models exactly that mass
at zero plus a skewed positive part in one model, and predicts the expected value directly.
Negative future values (net refunds) are clipped to zero for fitting, since Tweedie needs
non-negative targets; they remain in the evaluation.

Contributions come from LightGBM's `pred_contrib` (exact TreeSHAP) on the raw score: log-odds
for churn, log of expected value for value. They add up to the raw score, not to the
calibrated probability; `bias` is the expected raw score.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

_EPS = 1e-6


def _matrix(X: pd.DataFrame, names: list[str]) -> pd.DataFrame:  # noqa: N803
    """The model's columns in training order, as float64; a missing column is an error."""
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise ValueError(f"input lacks feature column(s): {', '.join(missing)}")
    return X[names].astype("float64")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class _Booster(BaseEstimator):
    """Shared fitting with early stopping, prediction and contributions."""

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        num_boost_round: int = 2000,
        early_stopping_rounds: int = 50,
        feature_set_id: str | None = None,
    ) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.feature_set_id = feature_set_id

    def _train(
        self,
        X: pd.DataFrame,  # noqa: N803
        y: np.ndarray,
        X_valid: pd.DataFrame,  # noqa: N803
        y_valid: np.ndarray,
        callbacks: list[Any] | None = None,
    ) -> None:
        self.feature_names_ = list(X.columns)
        self.feature_names_in_ = np.array(self.feature_names_, dtype=object)
        self.n_features_in_ = len(self.feature_names_)
        params = {"verbosity": -1, **(self.params or {}), **self._objective_params()}
        train_set = lgb.Dataset(_matrix(X, self.feature_names_), label=y, free_raw_data=True)
        valid_set = lgb.Dataset(
            _matrix(X_valid, self.feature_names_), label=y_valid, reference=train_set
        )
        self.evals_result_: dict[str, Any] = {}
        self.booster_ = lgb.train(
            params,
            train_set,
            num_boost_round=self.num_boost_round,
            valid_sets=[valid_set],
            valid_names=["oot"],
            callbacks=[
                lgb.early_stopping(
                    self.early_stopping_rounds, first_metric_only=True, verbose=False
                ),
                lgb.record_evaluation(self.evals_result_),
                *(callbacks or []),
            ],
        )
        self.best_iteration_ = int(
            self.booster_.best_iteration or self.booster_.current_iteration()
        )

    def _objective_params(self) -> dict[str, Any]:
        return {}

    def _target(self, y: pd.Series | np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=float)

    def _after_boosting(self, X_valid: pd.DataFrame, y_valid: np.ndarray) -> None:  # noqa: N803
        """A hook for work on the out-of-time rows once the trees are fixed (calibration)."""

    def fit(
        self,
        X: pd.DataFrame,  # noqa: N803
        y: pd.Series | np.ndarray,
        X_valid: pd.DataFrame | None = None,  # noqa: N803
        y_valid: pd.Series | np.ndarray | None = None,
        callbacks: list[Any] | None = None,
    ) -> _Booster:
        """Boost on (X, y), stop early (and calibrate) on the out-of-time (X_valid, y_valid).

        Out-of-time rows are required, not optional: without them there is nothing honest to
        stop early on, and a model stopped on its own training rows overfits.
        """
        if X_valid is None or y_valid is None:
            raise ValueError(f"{type(self).__name__} needs out-of-time rows (X_valid, y_valid)")
        y_valid_target = self._target(y_valid)
        self._train(X, self._target(y), X_valid, y_valid_target, callbacks)
        self._after_boosting(X_valid, y_valid_target)
        return self

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The booster's raw margin (log-odds or log-value) at the best iteration."""
        return self.booster_.predict(
            _matrix(X, self.feature_names_), num_iteration=self.best_iteration_, raw_score=True
        )

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Per-row TreeSHAP contributions to the raw score: one column per feature + `bias`."""
        values = self.booster_.predict(
            _matrix(X, self.feature_names_), num_iteration=self.best_iteration_, pred_contrib=True
        )
        return pd.DataFrame(values, columns=[*self.feature_names_, "bias"], index=X.index)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Total gain (or split count) per feature, highest first."""
        values = self.booster_.feature_importance(
            importance_type=kind, iteration=self.best_iteration_
        )
        return pd.Series(values, index=self.feature_names_, name=kind).sort_values(ascending=False)


class ChurnClassifier(ClassifierMixin, _Booster):
    """Calibrated churn probability from behavioural features (see the module docstring)."""

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        num_boost_round: int = 2000,
        early_stopping_rounds: int = 50,
        calibration: str = "sigmoid",
        feature_set_id: str | None = None,
    ) -> None:
        super().__init__(params, num_boost_round, early_stopping_rounds, feature_set_id)
        self.calibration = calibration

    def _objective_params(self) -> dict[str, Any]:
        return {"objective": "binary", "metric": ["binary_logloss", "auc"]}

    def _after_boosting(self, X_valid: pd.DataFrame, y_valid: np.ndarray) -> None:  # noqa: N803
        """Fit the calibrator on the out-of-time rows' raw scores (see the module docstring)."""
        if self.calibration not in ("isotonic", "sigmoid", "none"):
            raise ValueError(f"unknown calibration {self.calibration!r}")
        self.classes_ = np.array([0, 1])
        raw = self.raw_score(X_valid)
        if self.calibration == "isotonic":
            self.calibrator_: Any = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.calibrator_.fit(raw, y_valid)
        elif self.calibration == "sigmoid":
            self.calibrator_ = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y_valid)
        else:
            self.calibrator_ = None

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.calibrator_ is None:
            return 1.0 / (1.0 + np.exp(-raw))
        if isinstance(self.calibrator_, IsotonicRegression):
            return self.calibrator_.predict(raw)
        return self.calibrator_.predict_proba(raw.reshape(-1, 1))[:, 1]

    def churn_probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Calibrated probability of churning within the horizon, one value per row."""
        return self._calibrate(self.raw_score(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """scikit-learn shape: column 0 = stays, column 1 = churns (calibrated)."""
        p = self.churn_probability(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """1 where the calibrated churn probability is at least one half."""
        return (self.churn_probability(X) >= 0.5).astype(int)


class ValueRegressor(RegressorMixin, _Booster):
    """Expected future value over the value horizon (Tweedie LightGBM; see the docstring)."""

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        num_boost_round: int = 2000,
        early_stopping_rounds: int = 50,
        tweedie_variance_power: float = 1.3,
        feature_set_id: str | None = None,
    ) -> None:
        super().__init__(params, num_boost_round, early_stopping_rounds, feature_set_id)
        self.tweedie_variance_power = tweedie_variance_power

    def _objective_params(self) -> dict[str, Any]:
        return {
            "objective": "tweedie",
            "tweedie_variance_power": self.tweedie_variance_power,
            "metric": ["tweedie"],
        }

    def _target(self, y: pd.Series | np.ndarray) -> np.ndarray:
        """Tweedie needs non-negative targets: net refunds count as zero spend for fitting."""
        return np.clip(np.asarray(y, dtype=float), 0.0, None)

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Expected future value (currency units over the value horizon)."""
        return np.exp(self.raw_score(X))
