"""The value model blended with the value baselines the feature row can serve.

Why a blend in spend space, with weights chosen by ranking: spend is heavy-tailed and a
squared-error fit (NNLS) is decided by a few big spenders, while the value model is judged on
how it orders users (Spearman, normalised Gini) and on its level per decile. So the weights,
non-negative and summing to one, are searched on a grid (steps of 1/20) for the best fit-half
Spearman + Gini; level (decile MAPE, bias) is then set by scale factors, as the value model's
own calibration does. The grid holds every member alone, so a baseline that beats every blend
on the fit half is chosen outright; when LightGBM alone wins, `evaluate` keeps the plain value
model. Why a sum and not the classifiers' worst lead over the strongest baseline: on CDNOW no
blend of LightGBM and last-period spend, at any weight (down to 0.002), ranks by Spearman above
spend alone on the fit half, so the worst lead picks spend alone and gives up LightGBM's Gini
(report half: Spearman 0.4055 vs 0.3930, Gini 0.549 vs 0.737); the sum keeps the better model.

Both heads, so decisions keep a value at stake: each baseline b (last-period spend, and
BG/NBD × Gamma-Gamma where `behavioural_v2` carries it) is made conditional by the value
model's own recipe: scaled on the fit half to retained users' spend (k_b^r) and to lost
users' spend (k_b^c ≤ k_b^r). Then
    value_if_retained = s · (w_lgbm · lgbm_retained + Σ w_b · k_b^r · b(x)),
    value_if_churned  = s · (w_lgbm · lgbm_churned  + Σ w_b · k_b^c · b(x)),
every term of the second at most the first's, so value_if_retained ≥ value_if_churned for every
row; the unconditional value mixes them with the value model's P(lost) and the shared factor s
makes its fit-half total equal the actual total (bias within noise on the report half).

Contributions (logged, not used for reasons) add up to log(value_if_retained): LightGBM's
TreeSHAP plus log(s · w_lgbm) in `bias`, and the rest, log(1 + baselines' part / LightGBM's
part), credited to each baseline's one input column in proportion to its part. Without
LightGBM, log(value_if_retained) minus its fit-half mean goes to those columns.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, RegressorMixin

from training.metrics import normalized_gini, value_metrics
from training.stack_terms import BIAS, LIGHTGBM, value_terms
from training.stacking import STACK, MemberFacts, StackSummary
from training.value_model import ValueRegressor, tier_percentiles

GRID_STEPS = 20
_FLOOR = 1e-9  # log of a zero value: the floor keeps contributions finite and exact


def _scale(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Actual over predicted total (1 when there is nothing to learn from)."""
    if actual.size == 0 or predicted.sum() <= 0:
        return 1.0
    return float(np.clip(max(actual.sum(), 0.0) / predicted.sum(), 1e-3, 1e3))


def simplex_grid(members: int, steps: int = GRID_STEPS) -> list[np.ndarray]:
    """Non-negative weights summing to one in steps of 1/`steps`, LightGBM alone first."""
    points = [
        np.array([*head, steps - sum(head)]) / steps
        for head in itertools.product(range(steps + 1), repeat=members - 1)
        if sum(head) <= steps
    ]
    return sorted(points, key=lambda w: -w[0])


def _ranking(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Spearman and normalised Gini (nan, no skill, counts as 0): what the blend is chosen on."""
    rho = spearmanr(y, predicted).statistic if np.ptp(predicted) > 0 else 0.0
    gini = normalized_gini(y, predicted)
    return {"spearman": float(np.nan_to_num(rho)), "gini": float(np.nan_to_num(gini))}


class StackedValueRegressor(MemberFacts, RegressorMixin, BaseEstimator):
    """The value model and the value baselines blended (module docstring)."""

    conditional = True

    def __init__(self, boosted: Any) -> None:
        self.boosted = boosted

    def fit(
        self,
        X: pd.DataFrame,  # noqa: N803
        y: pd.Series | np.ndarray,
        lost: pd.Series | np.ndarray,
        baselines: dict[str, Any],
    ) -> StackedValueRegressor:
        """Choose weights and scales on the OOT fit half (X, y, lost); baselines are fitted."""
        if not getattr(self.boosted, "conditional", False):
            raise ValueError("a value stack needs a value model fitted with the `lost` outcome")
        self.boosted_ = self.boosted
        actual, kept = np.asarray(y, dtype=float), np.asarray(lost, dtype=float) == 0
        self.baselines_ = value_terms(baselines, X)
        self.head_scales_: dict[str, tuple[float, float]] = {}
        for name, (baseline, _) in self.baselines_.items():
            values = self._values(baseline, X)
            retained = _scale(actual[kept], values[kept])
            self.head_scales_[name] = (
                retained,
                min(_scale(actual[~kept], values[~kept]), retained),
            )
        names = [LIGHTGBM, *self.baselines_]
        retained_parts, churned_parts = self._head(X, True), self._head(X, False)
        p = self.boosted.lost_probability(X)
        mixed = p[:, None] * churned_parts + (1.0 - p[:, None]) * retained_parts
        grid = simplex_grid(len(names))
        scores = [sum(_ranking(actual, mixed @ w).values()) for w in grid]
        best = grid[int(np.argmax(scores))]
        self.weights_ = {name: float(w) for name, w in zip(names, best, strict=True)}
        self.scale_ = 1.0
        self.scale_ = _scale(actual, self.predict(X))
        self.fit_metrics_ = {STACK: value_metrics(actual, self.predict(X))}
        for i, name in enumerate(names):
            self.fit_metrics_[name] = value_metrics(actual, mixed[:, i])
        self.choice_ = next((n for n, w in self.weights_.items() if w == 1.0), STACK)
        self.reference_ = float(np.mean(self.raw_score(X)))
        self.retained_value_percentiles_ = tier_percentiles(self.value_if_retained(X))
        return self

    @staticmethod
    def _values(baseline: Any, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return np.clip(np.asarray(baseline.predict(X), dtype=float), 0.0, None)

    def _head(self, X: pd.DataFrame, retained: bool) -> np.ndarray:  # noqa: N803
        """Each member's retained (or churned) head, unweighted: rows × members."""
        boosted = self.boosted.value_if_retained if retained else self.boosted.value_if_churned
        columns = [boosted(X)]
        for name, (baseline, _) in self.baselines_.items():
            k_retained, k_churned = self.head_scales_[name]
            columns.append((k_retained if retained else k_churned) * self._values(baseline, X))
        return np.column_stack(columns)

    def _weights(self) -> np.ndarray:
        return np.array(list(self.weights_.values()))

    def summary(self) -> StackSummary:
        """The choice, weights and fit-half metrics, for the run's params and metrics."""
        return StackSummary(self.choice_, dict(self.weights_), self.fit_metrics_)

    def value_if_retained(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Expected spend over the value horizon if the user stays (or comes back)."""
        return self.scale_ * (self._head(X, True) @ self._weights())

    def value_if_churned(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Expected spend if the user is lost; never above `value_if_retained`."""
        return self.scale_ * (self._head(X, False) @ self._weights())

    def lost_probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The value model's calibrated P(lost | X), the weight `predict` mixes the heads with."""
        return self.boosted.lost_probability(X)

    # p·value_if_churned + (1 − p)·value_if_retained with p from the caller: the value model's
    # own mixing, reading this model's heads.
    expected_value = ValueRegressor.expected_value

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Unconditional expected future value (currency units over the value horizon)."""
        return self.expected_value(X, self.lost_probability(X))

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """log of value_if_retained (floored at 1e-9, so zero values stay finite)."""
        return np.log(np.maximum(self.value_if_retained(X), _FLOOR))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Per-row contributions to `raw_score` (module docstring): features + `bias`."""
        columns = [*self.feature_names_, BIAS]
        parts = self._head(X, True) * self._weights() * self.scale_
        raw = self.raw_score(X)
        w_lgbm = self.weights_[LIGHTGBM]
        if w_lgbm > 0:
            frame = self.boosted.contributions(X).reindex(columns=columns, fill_value=0.0)
            frame[BIAS] = frame[BIAS] + np.log(self.scale_ * w_lgbm)
            rest = raw - frame.sum(axis=1).to_numpy()
        else:
            frame = pd.DataFrame(0.0, index=X.index, columns=columns)
            frame[BIAS] = self.reference_
            rest = raw - self.reference_
        baseline_parts = parts[:, 1:]
        total = baseline_parts.sum(axis=1, keepdims=True)
        even = np.full_like(baseline_parts, 1.0 / max(baseline_parts.shape[1], 1))
        shares = np.divide(baseline_parts, total, out=even, where=total > 0)
        for i, (_, column) in enumerate(self.baselines_.values()):
            frame[column] = frame[column] + shares[:, i] * rest
        return frame
