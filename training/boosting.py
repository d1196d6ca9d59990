"""What every Retain model shares: a LightGBM booster stopped early on out-of-time rows, and a
calibrated binary classifier built on it.

Why a module of its own: the churn, recall and value models (`training.estimators`,
`training.value_model`) differ only in their objective and in what they do with the raw
score; fitting, early stopping, TreeSHAP contributions, importances and calibration are one
implementation here, so a fix to any of them reaches every model.

Calibration on the out-of-time *fit* half: outcome rates drift between cutoffs, and the
probabilities must be right for "now", not for the training period, so the calibrator learns
on the most recent labelled cutoff. Early stopping uses the same rows (it only picks the
number of trees, a mild optimism). Neither ever sees the OOT *report* half
(`training.datasets`), on which every reported metric is computed.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

CALIBRATIONS = ("isotonic", "sigmoid", "none")
# Small-data regularisation (`row_scaled_params`): a leaf never needs more than 1/20 of the
# rows, and never fewer than 5; a tree has no more leaves than two leaves' worth of rows each.
ROWS_PER_MIN_LEAF = 20
MIN_LEAF_FLOOR = 5


def row_scaled_params(params: dict[str, Any], rows: int) -> dict[str, Any]:
    """`params` with `min_child_samples` and `num_leaves` scaled down to `rows` training rows.

    Why: the defaults (the churn model's 200 rows per leaf, 15 leaves) are tuned on logs with
    tens of thousands of training rows. On 300 rows a 200-row leaf cannot be split at all, so
    every tree is one bare leaf and the "model" is the base rate. Scaled, a leaf holds at most
    1/20 of the rows (at least 5) and a tree has at most rows / (2 × leaf size) leaves, so small
    data gets small, well-populated trees. Large data keeps the configured values untouched:
    the churn defaults start to scale below 4,000 rows (leaf size) and 6,000 rows (leaves).
    """
    leaf = int(params.get("min_child_samples", 20))
    leaves = int(params.get("num_leaves", 31))
    scaled_leaf = max(MIN_LEAF_FLOOR, min(leaf, rows // ROWS_PER_MIN_LEAF))
    scaled_leaves = max(2, min(leaves, rows // (2 * scaled_leaf)))
    return {**params, "min_child_samples": scaled_leaf, "num_leaves": scaled_leaves}


def scaling_note(estimator: Any, rows: int) -> str | None:
    """What `row_scaled_params` changed for a fitted model, in words; None when nothing."""
    effective = getattr(estimator, "effective_params_", None)
    if effective is None:
        return None
    configured = {"min_child_samples": 20, "num_leaves": 31, **(estimator.params or {})}
    changed = [
        f"{name} {configured[name]} → {effective[name]}"
        for name in ("min_child_samples", "num_leaves")
        if int(configured[name]) != int(effective[name])
    ]
    if not changed:
        return None
    return f"regularisation scaled to {rows:,} training rows: {', '.join(changed)}"


def _matrix(X: pd.DataFrame, names: list[str]) -> pd.DataFrame:  # noqa: N803
    """The model's columns in training order, as float64; a missing column is an error."""
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise ValueError(f"input lacks feature column(s): {', '.join(missing)}")
    return X[names].astype("float64")


class _Booster(BaseEstimator):
    """Shared fitting with early stopping, prediction and contributions.

    `_design(X)` turns the caller's feature frame into the booster's input; by default it is
    the features themselves, a subclass may add columns (the value model adds `lost`).
    """

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

    def _set_features(self, X: pd.DataFrame) -> None:  # noqa: N803
        self.feature_names_ = list(X.columns)
        self.feature_names_in_ = np.array(self.feature_names_, dtype=object)
        self.n_features_in_ = len(self.feature_names_)

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """The booster's input for `X`: the features in training order."""
        return _matrix(X, self.feature_names_)

    def _train(
        self,
        design: pd.DataFrame,
        y: np.ndarray,
        valid_design: pd.DataFrame,
        y_valid: np.ndarray,
        callbacks: list[Any] | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        configured = {"verbosity": -1, **(self.params or {})}
        self.effective_params_ = row_scaled_params(configured, len(design))
        params = {**self.effective_params_, **self._objective_params(), **(extra_params or {})}
        train_set = lgb.Dataset(design, label=y, free_raw_data=True)
        valid_set = lgb.Dataset(valid_design, label=y_valid, reference=train_set)
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

    @staticmethod
    def _require_valid(owner: object, X_valid: Any, y_valid: Any) -> None:  # noqa: N803
        """Out-of-time rows are required, not optional: without them there is nothing honest
        to stop early on, and a model stopped on its own training rows overfits."""
        if X_valid is None or y_valid is None:
            raise ValueError(f"{type(owner).__name__} needs out-of-time rows (X_valid, y_valid)")

    def fit(
        self,
        X: pd.DataFrame,  # noqa: N803
        y: pd.Series | np.ndarray,
        X_valid: pd.DataFrame | None = None,  # noqa: N803
        y_valid: pd.Series | np.ndarray | None = None,
        callbacks: list[Any] | None = None,
    ) -> _Booster:
        """Boost on (X, y), stop early (and calibrate) on the out-of-time (X_valid, y_valid)."""
        self._require_valid(self, X_valid, y_valid)
        self._set_features(X)
        y_valid_target = self._target(y_valid)
        self._train(
            self._design(X), self._target(y), self._design(X_valid), y_valid_target, callbacks
        )
        self._after_boosting(X_valid, y_valid_target)
        return self

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The booster's raw margin (log-odds or log-value) at the best iteration."""
        return self.booster_.predict(
            self._design(X), num_iteration=self.best_iteration_, raw_score=True
        )

    def _contributions(self, design: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
        values = self.booster_.predict(
            design, num_iteration=self.best_iteration_, pred_contrib=True
        )
        return pd.DataFrame(values, columns=[*design.columns, "bias"], index=index)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Per-row TreeSHAP contributions to the raw score: one column per feature + `bias`."""
        return self._contributions(self._design(X), X.index)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Total gain (or split count) per booster input, highest first."""
        values = self.booster_.feature_importance(
            importance_type=kind, iteration=self.best_iteration_
        )
        names = self.booster_.feature_name()
        return pd.Series(values, index=names, name=kind).sort_values(ascending=False)


class CalibratedClassifier(ClassifierMixin, _Booster):
    """A binary LightGBM whose raw scores are calibrated on the out-of-time fit half.

    The churn and recall models are this with a name for their probability; the value model
    uses one, unnamed, for the probability that a user is lost.
    """

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
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"unknown calibration {self.calibration!r}")
        self.classes_ = np.array([0, 1])
        if self.calibration != "none" and len(np.unique(y_valid)) < 2:
            raise ValueError(
                f"{type(self).__name__}: the out-of-time fit half holds one class only "
                f"({len(y_valid)} rows); nothing to calibrate on: use more or later cutoffs"
            )
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

    def probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Calibrated probability of the positive class, one value per row."""
        return self._calibrate(self.raw_score(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """scikit-learn shape: column 0 = negative class, column 1 = positive (calibrated)."""
        p = self.probability(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """1 where the calibrated probability is at least one half."""
        return (self.probability(X) >= 0.5).astype(int)
