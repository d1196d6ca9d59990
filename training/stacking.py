"""Never lose to a baseline Retain computes itself: LightGBM and the baselines, stacked.

Why: on real purchase logs LightGBM ties an RFM logistic regression or BG/NBD, and on some it
loses. Each member sees the data differently (trees vs a smooth linear score vs a
probabilistic purchase model), so a combination learned out of time is at least as good as
the best member on the rows it was learned on, and usually better.

Churn and recall: a logistic stack in log-odds space,
    logit p = w_lgbm · raw_lgbm(x) + Σ w_b · logit p_b(x) + c,    every w ≥ 0,
fitted by penalised log-loss on the out-of-time *fit* half only (the rows LightGBM stops early
and calibrates on; the baselines are fitted on the training cutoffs, so all members score those
rows out of time). The report half, on which every logged metric is computed, is untouched.
Non-negative weights: members are all "risk" scores, and a negative weight on a correlated
member is a fit-half artefact that does not travel. The stack *chooses* as well as blends: the
full stack and each member alone (itself a one-member stack) are compared on the fit half by
their worst lead over the strongest baseline across the headline metrics (ROC-AUC, PR-AUC),
which is what `beats_baselines` asks on the report half, and the best is kept; so if a
baseline alone beats the blend there, the served model is that baseline. When LightGBM alone
wins, `evaluate` keeps the plain LightGBM model. The logistic stack is itself a sigmoid
calibration of its log-odds; with `calibration: isotonic`, an isotonic map of the stack's
log-odds is fitted on the same rows.

Reasons stay exact and additive: the stack's contributions are Σ w_k · (member k's
contributions), LightGBM's being TreeSHAP, the logistic regression's coef·z, plus the intercept
in `bias`; so they add up to the stack's log-odds (`raw_score`) row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression

from training.stack_terms import BIAS, LIGHTGBM, ClassifierTerm, classifier_terms

STACK = "stack"
HEADLINE = ("roc_auc", "pr_auc")  # promotion's pair: the candidates are judged on both
_L2 = 1e-3  # a light ridge on the weights: members are strongly correlated log-odds


@dataclass
class StackSummary:
    """What the run logs about a stack: the choice, its weights and each candidate's fit-half
    headline metrics (the full blend under `stack`, each member alone under its name)."""

    choice: str
    weights: dict[str, float]
    fit_metrics: dict[str, dict[str, float]]
    intercept: float = 0.0
    lightgbm_report_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def kept(self) -> list[str]:
        """The members with a positive weight, in the order they were offered."""
        return [name for name, weight in self.weights.items() if weight > 0]

    def params(self, kind: str) -> dict[str, object]:
        """`<kind>.stack.choice`, `.kept`, `.intercept` and `.weight.<member>` run parameters."""
        params: dict[str, object] = {
            f"{kind}.stack.choice": self.choice,
            f"{kind}.stack.kept": ",".join(self.kept),
            f"{kind}.stack.intercept": round(self.intercept, 6),
        }
        params.update({f"{kind}.stack.weight.{n}": round(w, 6) for n, w in self.weights.items()})
        return params

    def metrics(self) -> dict[str, float]:
        """Each candidate's fit-half metrics as `<candidate>_oot_fit_<metric>` (`stack_…` for
        the full blend), and LightGBM alone on the report half as `lightgbm_oot_<metric>`."""
        from training.metric_names import fit_metric, report_metric

        named = {
            f"{candidate}_{fit_metric(metric)}": value
            for candidate, values in self.fit_metrics.items()
            for metric, value in values.items()
        }
        named.update(
            {
                report_metric(metric, LIGHTGBM): value
                for metric, value in self.lightgbm_report_metrics.items()
            }
        )
        return named


def nonnegative_logistic(terms: np.ndarray, y: np.ndarray, l2: float = _L2) -> np.ndarray:
    """Weights (≥ 0, one per column of `terms`) and a free intercept (last) minimising the mean
    log-loss of sigmoid(terms · w + c) plus l2·|w|²."""
    n, k = terms.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        score = terms @ theta[:k] + theta[k]
        value = np.mean(np.logaddexp(0.0, score) - y * score) + l2 * theta[:k] @ theta[:k]
        residual = (1.0 / (1.0 + np.exp(-score)) - y) / n
        gradient = np.append(terms.T @ residual + 2.0 * l2 * theta[:k], residual.sum())
        return float(value), gradient

    start = np.append(np.full(k, 1.0 / k), 0.0)
    bounds = [(0.0, None)] * k + [(None, None)]
    return minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x


def worst_margin(candidate: dict[str, float], reference: dict[str, float]) -> float:
    """The smallest lead of `candidate` over `reference` across reference's metrics (all
    higher-is-better; a missing or nan metric counts as no skill: 0)."""
    return min(float(np.nan_to_num(candidate.get(m, 0.0))) - r for m, r in reference.items())


def best_of(metrics: list[dict[str, float]], names: tuple[str, ...]) -> dict[str, float]:
    """Per metric in `names`, the best value among `metrics` (the strongest baseline)."""
    return {m: max(float(np.nan_to_num(each.get(m, 0.0))) for each in metrics) for m in names}


class MemberFacts:
    """What serving and run logging read off a model, answered by the LightGBM member `boosted_`
    (feature names, feature set, best iteration, regularisation, importances)."""

    boosted_: Any

    @property
    def feature_names_(self) -> list[str]:
        return list(self.boosted_.feature_names_)

    @property
    def feature_set_id(self) -> str | None:
        return self.boosted_.feature_set_id

    @property
    def best_iteration_(self) -> int:
        return int(self.boosted_.best_iteration_)

    @property
    def effective_params_(self) -> dict[str, Any]:
        return getattr(self.boosted_, "effective_params_", {})

    @property
    def params(self) -> dict[str, Any] | None:
        return self.boosted_.params

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """The LightGBM member's importances (the stack's weights are logged beside them)."""
        return self.boosted_.feature_importance(kind)


class StackedClassifier(MemberFacts, ClassifierMixin, BaseEstimator):
    """A logistic stack of a fitted LightGBM classifier and fitted baselines (module docstring).

    `fit(X_fit, y_fit, baselines)` takes the OOT fit half and the baselines already fitted on
    the training cutoffs, by name; it never refits them.
    """

    def __init__(self, boosted: Any, calibration: str = "sigmoid", kind: str = "churn") -> None:
        self.boosted = boosted
        self.calibration = calibration
        self.kind = kind

    def fit(
        self,
        X: pd.DataFrame,  # noqa: N803
        y: pd.Series | np.ndarray,
        baselines: dict[str, Any],
    ) -> StackedClassifier:
        from training.metrics import churn_metrics

        self.boosted_ = self.boosted
        self.classes_ = np.array([0, 1])
        labels = np.asarray(y, dtype=float)
        terms = classifier_terms(self.kind, self.boosted, baselines, X)
        names = list(terms)
        matrix = np.column_stack([terms[name].log_odds(X) for name in names])
        candidates = {STACK: names, **{name: [name] for name in names}}
        fitted: dict[str, tuple[dict[str, float], float]] = {}
        self.fit_metrics_: dict[str, dict[str, float]] = {}
        for label, members in candidates.items():
            columns = [names.index(name) for name in members]
            theta = nonnegative_logistic(matrix[:, columns], labels)
            weights = {name: 0.0 for name in names} | dict(zip(members, theta[:-1], strict=True))
            fitted[label] = ({n: float(w) for n, w in weights.items()}, float(theta[-1]))
            score = matrix @ np.array([weights[n] for n in names]) + theta[-1]
            self.fit_metrics_[label] = churn_metrics(labels, 1.0 / (1.0 + np.exp(-score)))
        strongest = best_of([self.fit_metrics_[n] for n in names if n != LIGHTGBM], HEADLINE)
        self.choice_ = max(
            candidates, key=lambda label: worst_margin(self.fit_metrics_[label], strongest)
        )
        self.weights_, self.intercept_ = fitted[self.choice_]
        self.terms_: dict[str, ClassifierTerm] = {
            name: terms[name] for name in names if self.weights_[name] > 0
        }
        self.calibrator_ = None
        if self.calibration == "isotonic":
            self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.calibrator_.fit(self.raw_score(X), labels)
        return self

    def summary(self) -> StackSummary:
        """The choice, weights and fit-half metrics, for the run's params and metrics."""
        return StackSummary(self.choice_, dict(self.weights_), self.fit_metrics_, self.intercept_)

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The stack's log-odds: Σ w_k · member k's log-odds + intercept."""
        total = np.full(len(X), self.intercept_)
        for name, term in self.terms_.items():
            total = total + self.weights_[name] * term.log_odds(X)
        return total

    def contributions(
        self,
        X: pd.DataFrame,  # noqa: N803
        tree_contributions: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Per-row contributions to `raw_score`: one column per feature + `bias`, adding up to it.

        `tree_contributions` replaces LightGBM's TreeSHAP with another additive attribution of
        its raw score (serving's fast path attribution); the other members are exact either way.
        """
        columns = [*self.feature_names_, BIAS]
        total = pd.DataFrame(0.0, index=X.index, columns=columns)
        for name, term in self.terms_.items():
            use_given = name == LIGHTGBM and tree_contributions is not None
            part = tree_contributions if use_given else term.contributions(X)
            total = total + self.weights_[name] * part.reindex(columns=columns, fill_value=0.0)
        total[BIAS] = total[BIAS] + self.intercept_
        return total

    def probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Calibrated probability of the positive class, one value per row."""
        raw = self.raw_score(X)
        if self.calibrator_ is not None:
            return self.calibrator_.predict(raw)
        return 1.0 / (1.0 + np.exp(-raw))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """scikit-learn shape: column 0 = negative class, column 1 = positive."""
        p = self.probability(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """1 where the probability is at least one half."""
        return (self.probability(X) >= 0.5).astype(int)


class StackedChurnClassifier(StackedClassifier):
    """A stacked churn model: answers `churn_probability` like `ChurnClassifier`."""

    def churn_probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Probability of churning within the horizon, one value per row."""
        return self.probability(X)


class StackedRecallClassifier(StackedClassifier):
    """A stacked recall model: answers `return_probability` like `RecallClassifier`."""

    def return_probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Probability that a lapsed user comes back within the churn horizon, per row."""
        return self.probability(X)
