"""Uplift models: who, within a segment, an action keeps (and whom it only costs money).

Why: targeting the users most likely to churn is not targeting the users an action will keep
(Ascarza, "Retention Futility", JMR 2018). A two-model (T-learner) on LightGBM predicts each
user's churn probability with and without the action; their difference is the user's uplift.
It is judged out of fold (cross-fitting: no user is scored by a model that saw them) with the
Qini curve against two orderings an operator could use instead: random (the Qini line) and by
churn risk (the "target the likeliest leavers" rule).

Conventions: `uplift` = churn if untreated − churn if treated (positive: the action keeps the
user); Qini counts *retained* users: Q(k) = R_t(k) − R_c(k) · N_t(k) / N_c(k) over the top k
users, the incremental users kept had the top k all been treated. The Qini coefficient here is
the area between the curve and the random line divided by the number of users: the average, over
all targeting depths, of extra users kept per user compared with random targeting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold


class TwoModelUplift(BaseEstimator):
    """Separate LightGBM churn classifiers for the treated and the control arm."""

    def __init__(
        self,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 40,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def _classifier(self):  # type: ignore[no-untyped-def]
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.random_state,
            n_jobs=1,  # small data: more threads only contend on shared cores
            verbose=-1,
        )

    def fit(
        self,
        X: pd.DataFrame,  # noqa: N803
        treated: np.ndarray,
        churned: np.ndarray,
    ) -> TwoModelUplift:
        """Fit one classifier per arm; both arms need both outcomes."""
        treated = np.asarray(treated, dtype=bool)
        churned = np.asarray(churned, dtype=int)
        for arm in (True, False):
            if np.unique(churned[treated == arm]).size < 2:
                raise ValueError("each arm needs both churned and retained users to fit uplift")
        self.treated_model_ = self._classifier().fit(X[treated], churned[treated])
        self.control_model_ = self._classifier().fit(X[~treated], churned[~treated])
        self.feature_names_in_ = np.asarray(X.columns)
        return self

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Churn probability without the action."""
        return self.control_model_.predict_proba(X)[:, 1]

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Churn prevented by the action: P(churn | control) − P(churn | treated)."""
        return self.predict_risk(X) - self.treated_model_.predict_proba(X)[:, 1]


def cross_fitted(
    model: TwoModelUplift,
    X: pd.DataFrame,  # noqa: N803
    treated: np.ndarray,
    churned: np.ndarray,
    folds: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold (uplift, risk) for every row; folds stratified on arm × outcome."""
    treated = np.asarray(treated, dtype=bool)
    churned = np.asarray(churned, dtype=int)
    uplift, risk = np.empty(len(X)), np.empty(len(X))
    strata = treated.astype(int) * 2 + churned
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(X, strata):
        fitted = TwoModelUplift(**model.get_params()).fit(
            X.iloc[train], treated[train], churned[train]
        )
        uplift[test] = fitted.predict_uplift(X.iloc[test])
        risk[test] = fitted.predict_risk(X.iloc[test])
    return uplift, risk


def qini_curve(score: np.ndarray, treated: np.ndarray, retained: np.ndarray) -> np.ndarray:
    """Q(k) for k = 0..N users taken in decreasing `score` (ties in row order)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    t = np.asarray(treated, dtype=bool)[order]
    r = np.asarray(retained, dtype=float)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    r_t, r_c = np.cumsum(r * t), np.cumsum(r * ~t)
    ratio = np.divide(n_t, n_c, out=np.zeros(len(t)), where=n_c > 0)
    return np.concatenate(([0.0], r_t - r_c * ratio))


def qini_coefficient(score: np.ndarray, treated: np.ndarray, retained: np.ndarray) -> float:
    """Area between the Qini curve and the random line, per user (0: no better than random)."""
    curve = qini_curve(score, treated, retained)
    n = len(curve) - 1
    if n == 0:
        return float("nan")
    random_line = np.linspace(0.0, curve[-1], n + 1)
    return float(np.trapezoid(curve - random_line) / n**2)


def uplift_at(
    score: np.ndarray, treated: np.ndarray, retained: np.ndarray, share: float = 0.3
) -> float:
    """Retention rate treated − control among the top `share` of users by score."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    top = order[: max(1, round(share * len(order)))]
    t = np.asarray(treated, dtype=bool)[top]
    r = np.asarray(retained, dtype=float)[top]
    if t.all() or not t.any():
        return float("nan")
    return float(r[t].mean() - r[~t].mean())


@dataclass(frozen=True)
class UpliftEvaluation:
    """Out-of-fold quality of one action's uplift model against the simple orderings."""

    action_id: str
    rows: int
    qini_model: float
    qini_by_risk: float
    uplift_at_k_model: float
    uplift_at_k_by_risk: float
    uplift_at_k_random: float  # the overall treated − control retention: random's expectation
    k_share: float

    def metrics(self) -> dict[str, float]:
        """Flat metric names for MLflow."""
        a = self.action_id
        return {
            f"{a}.uplift_rows": float(self.rows),
            f"{a}.qini_model": self.qini_model,
            f"{a}.qini_by_risk": self.qini_by_risk,
            f"{a}.uplift_at_k_model": self.uplift_at_k_model,
            f"{a}.uplift_at_k_by_risk": self.uplift_at_k_by_risk,
            f"{a}.uplift_at_k_random": self.uplift_at_k_random,
        }


def evaluate_action(
    action_id: str,
    X: pd.DataFrame,  # noqa: N803
    treated: np.ndarray,
    churned: np.ndarray,
    *,
    model: TwoModelUplift | None = None,
    k_share: float = 0.3,
    folds: int = 3,
) -> UpliftEvaluation:
    """Cross-fit the two-model on one action's targets and score its orderings."""
    treated = np.asarray(treated, dtype=bool)
    retained = 1.0 - np.asarray(churned, dtype=float)
    uplift, risk = cross_fitted(model or TwoModelUplift(), X, treated, churned, folds)
    return UpliftEvaluation(
        action_id=action_id,
        rows=len(X),
        qini_model=qini_coefficient(uplift, treated, retained),
        qini_by_risk=qini_coefficient(risk, treated, retained),
        uplift_at_k_model=uplift_at(uplift, treated, retained, k_share),
        uplift_at_k_by_risk=uplift_at(risk, treated, retained, k_share),
        uplift_at_k_random=float(retained[treated].mean() - retained[~treated].mean()),
        k_share=k_share,
    )
