"""The value model: spend over the value horizon, unconditional and if retained or lost.

Why Tweedie: future spend is zero for most users and heavy-tailed for the rest; Tweedie
(compound Poisson–gamma, log link) models that mass at zero plus a skewed positive part in one
model and predicts the expected value directly. Net refunds are clipped to zero for fitting
(Tweedie needs non-negative targets); they stay in the evaluation and in the level calibration.

Why a `lost` input with a monotone constraint: decisions need the value *at stake*, value if
retained − value if lost (DESIGN.md §4), not only the unconditional expectation. The outcome
`lost` (churned for users active at the cutoff, not returned for lapsed users) is a model
input during training, constrained so the prediction never increases with it; so
`value_if_retained(X)` = f(X, lost=0) ≥ `value_if_churned(X)` = f(X, lost=1) holds for every
row by construction, and one booster learns both from all users (the two heads share trees).

`predict(X)` stays the unconditional expectation, p·v_churned + (1 − p)·v_retained, with p from
a calibrated classifier of P(lost | X) fitted on the same rows; `expected_value(X, p)` mixes with
a probability supplied from outside (serving passes the churn or recall champion's).

Level calibration: spend drifts between cutoffs (seasonality, growth) and the trees learn on
cutoffs at least one value horizon old, so each head's level is rescaled on the out-of-time
*fit* half: scale = actual / predicted spend among that half's retained (lost) users, like the
churn calibrator (and never on the report half). The lost head's scale is capped at the
retained head's, which keeps value_if_retained ≥ value_if_churned after calibration too.
The unconditional value mixes the heads with an *estimated* P(lost), so a last factor, shared
by both heads, makes its total on the fit half equal the actual total: on the demo's data the
per-head scales alone left the unconditional mean 1.4% low on the fit half and 5.1% low on
the report half; with it, the report half is within ±5% (tests/models/test_value_bias.py).

Tier cut points: `retained_value_percentiles_` holds the percentiles 0..100 of
value_if_retained over the out-of-time fit half's users worth at least `MIN_TIER_VALUE`, so
every scoring run cuts tiers at the same amounts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin

from training.boosting import CalibratedClassifier, _Booster, _matrix

LOST = "lost"
MIN_TIER_VALUE = 0.01
LEVEL_CALIBRATIONS = ("scale", "none")
_SCALE_BOUNDS = (1e-3, 1e3)  # a scale outside these says the fit half is degenerate


def tier_percentiles(values: np.ndarray, floor: float = MIN_TIER_VALUE) -> np.ndarray:
    """Percentiles 0..100 (101 floats) of `values` at or above `floor`; zeros if none are."""
    worth = np.asarray(values, dtype=float)
    worth = worth[worth >= floor]
    if worth.size == 0:
        return np.zeros(101)
    return np.percentile(worth, np.arange(101))


class ValueRegressor(RegressorMixin, _Booster):
    """Expected future value, unconditional and if retained or lost (see the module docstring).

    Fitted without `lost` (old callers, benchmarks) it is the plain unconditional model and
    the conditional methods raise, rather than pretend nothing is at stake.
    """

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        num_boost_round: int = 2000,
        early_stopping_rounds: int = 50,
        tweedie_variance_power: float = 1.3,
        calibration: str = "scale",
        outcome_params: dict[str, Any] | None = None,
        feature_set_id: str | None = None,
    ) -> None:
        super().__init__(params, num_boost_round, early_stopping_rounds, feature_set_id)
        self.tweedie_variance_power = tweedie_variance_power
        self.calibration = calibration
        self.outcome_params = outcome_params

    def _objective_params(self) -> dict[str, Any]:
        return {
            "objective": "tweedie",
            "tweedie_variance_power": self.tweedie_variance_power,
            "metric": ["tweedie"],
        }

    def _target(self, y: pd.Series | np.ndarray) -> np.ndarray:
        """Tweedie needs non-negative targets: net refunds count as zero spend for fitting."""
        return np.clip(np.asarray(y, dtype=float), 0.0, None)

    @property
    def conditional(self) -> bool:
        """Whether the model was fitted with the `lost` outcome (and has both heads)."""
        return getattr(self, "outcome_model_", None) is not None

    def _design(self, X: pd.DataFrame, lost: float = 0.0) -> pd.DataFrame:  # noqa: N803
        """The features, plus `lost` held at one value when the model has both heads."""
        matrix = _matrix(X, self.feature_names_)
        return _with_lost(matrix, lost) if self.conditional else matrix

    def fit(  # type: ignore[override]
        self,
        X: pd.DataFrame,  # noqa: N803
        y: pd.Series | np.ndarray,
        X_valid: pd.DataFrame | None = None,  # noqa: N803
        y_valid: pd.Series | np.ndarray | None = None,
        callbacks: list[Any] | None = None,
        *,
        lost: pd.Series | np.ndarray | None = None,
        lost_valid: pd.Series | np.ndarray | None = None,
    ) -> ValueRegressor:
        """Boost on (X, y) [and `lost`], stop early and calibrate the level on the OOT rows.

        `lost`/`lost_valid` are the 0/1 outcome of each training / out-of-time row; pass both
        or neither. `callbacks` reach the value booster only (Optuna prunes on its metric).
        """
        self._require_valid(self, X_valid, y_valid)
        if (lost is None) != (lost_valid is None):
            raise ValueError("pass `lost` for the training and the out-of-time rows, or neither")
        assert X_valid is not None and y_valid is not None
        self._set_features(X)
        self.outcome_model_: CalibratedClassifier | None = None
        design, valid = _matrix(X, self.feature_names_), _matrix(X_valid, self.feature_names_)
        extra: dict[str, Any] = {}
        train_lost = valid_lost = np.zeros(0)
        if lost is not None and lost_valid is not None:
            train_lost, valid_lost = _binary(lost, len(X)), _binary(lost_valid, len(X_valid))
            design, valid = _with_lost(design, train_lost), _with_lost(valid, valid_lost)
            extra["monotone_constraints"] = [0] * self.n_features_in_ + [-1]
            extra["monotone_constraints_method"] = "basic"
        self._train(design, self._target(y), valid, self._target(y_valid), callbacks, extra)
        if lost is not None:
            self.outcome_model_ = CalibratedClassifier(
                params=self.outcome_params,
                num_boost_round=self.num_boost_round,
                early_stopping_rounds=self.early_stopping_rounds,
                calibration="sigmoid",
                feature_set_id=self.feature_set_id,
            ).fit(X, train_lost, X_valid, valid_lost)
        self._calibrate_level(X_valid, np.asarray(y_valid, dtype=float), valid_lost)
        reference = self.value_if_retained(X_valid) if self.conditional else self.predict(X_valid)
        self.retained_value_percentiles_ = tier_percentiles(reference)
        return self

    def _calibrate_level(
        self,
        X_valid: pd.DataFrame,  # noqa: N803
        actual: np.ndarray,
        valid_lost: np.ndarray,
    ) -> None:
        """Per-head scale factors on the out-of-time fit half (see the module docstring)."""
        if self.calibration not in LEVEL_CALIBRATIONS:
            raise ValueError(f"unknown value calibration {self.calibration!r}")
        self.retained_scale_ = self.churned_scale_ = 1.0
        if self.calibration == "none":
            return
        if not self.conditional:
            scale = self._scale(actual, np.exp(self._margin(X_valid, 0.0)))
            self.retained_scale_ = self.churned_scale_ = scale
            return
        kept = valid_lost == 0
        retained = self._scale(actual[kept], np.exp(self._margin(X_valid[kept], 0.0)))
        churned = self._scale(actual[~kept], np.exp(self._margin(X_valid[~kept], 1.0)))
        self.retained_scale_, self.churned_scale_ = retained, min(churned, retained)
        # The heads are right among users whose outcome is known; `predict` mixes them with the
        # *estimated* P(lost), so its level is set once more, both heads alike (order kept).
        mixture = self._scale(actual, self.predict(X_valid))
        self.mixture_scale_ = mixture
        self.retained_scale_ *= mixture
        self.churned_scale_ *= mixture

    @staticmethod
    def _scale(actual: np.ndarray, predicted: np.ndarray) -> float:
        """Actual over predicted total, within bounds; 1 when there is nothing to learn from."""
        if actual.size == 0 or predicted.sum() <= 0:
            return 1.0
        return float(np.clip(max(actual.sum(), 0.0) / predicted.sum(), *_SCALE_BOUNDS))

    def _margin(self, X: pd.DataFrame, lost: float) -> np.ndarray:  # noqa: N803
        return self.booster_.predict(
            self._design(X, lost), num_iteration=self.best_iteration_, raw_score=True
        )

    def _require_conditional(self, what: str) -> None:
        if not self.conditional:
            raise ValueError(
                f"{what} needs a value model fitted with the `lost` outcome; this one was "
                "fitted without it (retrain with `retain train`)"
            )

    def value_if_retained(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Expected spend over the value horizon if the user stays (or comes back)."""
        self._require_conditional("value_if_retained")
        return getattr(self, "retained_scale_", 1.0) * np.exp(self._margin(X, 0.0))

    def value_if_churned(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Expected spend if the user is lost; never above `value_if_retained`."""
        self._require_conditional("value_if_churned")
        return getattr(self, "churned_scale_", 1.0) * np.exp(self._margin(X, 1.0))

    def lost_probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The model's own calibrated P(lost | X), the weight `predict` mixes the heads with."""
        self._require_conditional("lost_probability")
        assert self.outcome_model_ is not None
        return self.outcome_model_.probability(X)

    def expected_value(
        self,
        X: pd.DataFrame,  # noqa: N803
        lost_probability: np.ndarray | pd.Series | float,
    ) -> np.ndarray:
        """p·value_if_churned + (1 − p)·value_if_retained with p supplied by the caller.

        Serving passes the churn probability (active users) or 1 − the return probability
        (lapsed users) of the champions, so value and risk come from one source of truth.
        """
        p = np.broadcast_to(np.clip(np.asarray(lost_probability, dtype=float), 0.0, 1.0), len(X))
        return p * self.value_if_churned(X) + (1.0 - p) * self.value_if_retained(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Unconditional expected future value (currency units over the value horizon)."""
        if self.conditional:
            return self.expected_value(X, self.lost_probability(X))
        return getattr(self, "retained_scale_", 1.0) * np.exp(self._margin(X, 0.0))

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Log of value_if_retained (log of the unconditional value without `lost`)."""
        return self._margin(X, 0.0) + np.log(getattr(self, "retained_scale_", 1.0))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """TreeSHAP contributions to `raw_score`: one column per feature + `bias`.

        `lost` is held at 0 (the retained head, which sets tiers); its term and the level
        scale are folded into `bias`, so the columns are the features exactly as for the
        other models and each row still adds up to the raw score.
        """
        frame = self._contributions(self._design(X, 0.0), X.index)
        if LOST in frame.columns:
            frame["bias"] = frame["bias"] + frame.pop(LOST)
        frame["bias"] = frame["bias"] + np.log(getattr(self, "retained_scale_", 1.0))
        return frame


def _with_lost(matrix: pd.DataFrame, lost: float | np.ndarray) -> pd.DataFrame:
    """`matrix` with the `lost` column appended (one value for all rows, or one per row)."""
    return matrix.assign(**{LOST: np.broadcast_to(np.asarray(lost, dtype=float), len(matrix))})


def _binary(values: pd.Series | np.ndarray, rows: int) -> np.ndarray:
    """A 0/1 outcome array of `rows` values; anything else is a caller's mistake."""
    array = np.asarray(values, dtype=float)
    if array.shape != (rows,) or not np.isin(array, (0.0, 1.0)).all():
        raise ValueError(f"`lost` must hold one 0/1 value per row ({rows} rows)")
    return array
