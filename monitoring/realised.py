"""Realised quality: did the scores a past run wrote come true, and are they worse than promised?

Why here and not in `training`: training measures a model on a held-out cutoff it chose; this
measures what was actually sent to operators, on the users it was sent for, once their
horizons have passed. The figures themselves are the same as at training (the same functions
from `training.metrics`), so "0.78 out of time at training, 0.71 realised" compares like with
like.

Populations: a churn label exists only for users active at the scored cutoff, so churn figures
use the rows whose `churned` is known (lapsed users carry 1 − return probability in a score file
and have no churn label; they are left out, as at training). Value figures use every scored
user with a realised `future_value`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from monitoring.config import Band, MonitorThresholds
from monitoring.status import Check, Status, json_float, worst_status
from training import churn_metrics, value_metrics

ECE_BINS = 10
CHURN_SCORE, VALUE_SCORE = "churn_probability", "predicted_value"
CHURN_LABEL, VALUE_LABEL = "churned", "future_value"


def equal_mass_ece(y: Any, p: Any, bins: int = ECE_BINS) -> float:
    """ECE over `bins` groups of (nearly) equal size, by rank of the predicted probability.

    Why besides training's equal-width ECE (reported as `churn_ece`, the one compared with
    training): churn probabilities crowd into a few low bins of width 0.1, leaving the upper
    bins with a handful of users whose noise dominates. Equal-mass groups give every group the
    same weight and sample size. Rows are sorted by probability (ties by position) and split
    into `bins` consecutive groups whose sizes differ by at most one; the result is the
    size-weighted mean of |mean predicted − observed rate| per group.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    total = 0.0
    for group in np.array_split(order, min(bins, len(order))):
        total += len(group) / len(order) * abs(p[group].mean() - y[group].mean())
    return float(total)


def _prefixed(prefix: str, metrics: Mapping[str, float]) -> dict[str, float]:
    return {k if k.startswith(prefix) else f"{prefix}{k}": float(v) for k, v in metrics.items()}


def _by_user(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """The frame keyed by user_id as text (the contract compares ids as strings), unique."""
    if "user_id" not in frame.columns:
        raise ValueError(f"the {what} have no user_id column")
    keyed = frame.assign(user_id=frame["user_id"].astype(str))
    duplicated = keyed["user_id"].duplicated()
    if duplicated.any():
        example = keyed.loc[duplicated, "user_id"].iloc[0]
        raise ValueError(f"the {what} list user {example!r} more than once")
    return keyed.set_index("user_id")


def realised_metrics(scores: pd.DataFrame, labels: pd.DataFrame) -> dict[str, float]:
    """Churn and value figures of recorded scores against realised labels, joined on user_id.

    `scores` holds `user_id` and `churn_probability` and/or `predicted_value`; `labels` holds
    `user_id` and `churned` (0/1, missing for users not active at the cutoff) and/or
    `future_value`. A figure family is computed only when both sides carry its columns (the
    value horizon may not have passed when the churn horizon has). Also returned: how many
    scored users have labels (`matched_rows`) and how many do not (`unmatched_scores`).
    """
    joined = _by_user(scores, "scores").join(_by_user(labels, "labels"), how="inner")
    result = {
        "matched_rows": float(len(joined)),
        "unmatched_scores": float(len(scores) - len(joined)),
    }
    if {CHURN_SCORE, CHURN_LABEL} <= set(joined.columns):
        known = joined[joined[CHURN_LABEL].notna() & joined[CHURN_SCORE].notna()]
        y, p = known[CHURN_LABEL].to_numpy(float), known[CHURN_SCORE].to_numpy(float)
        if len(known):
            result |= _prefixed("churn_", churn_metrics(y, p))
            result["churn_ece_equal_mass"] = equal_mass_ece(y, p)
        else:
            result["churn_rows"] = 0.0
    if {VALUE_SCORE, VALUE_LABEL} <= set(joined.columns):
        known = joined[joined[VALUE_LABEL].notna() & joined[VALUE_SCORE].notna()]
        if len(known):
            y, pred = known[VALUE_LABEL].to_numpy(float), known[VALUE_SCORE].to_numpy(float)
            result |= _prefixed("value_", value_metrics(y, pred))
        else:
            result["value_rows"] = 0.0
    return result


@dataclass(frozen=True)
class _Rule:
    """How one realised figure is judged: against which training figure, in which direction."""

    realised: str  # key in `realised_metrics`
    training: str  # key in the model's out-of-time metrics (ModelInfo.metrics)
    model: str  # "churn" or "value"
    band: str  # attribute of MonitorThresholds
    worse_when: str  # "lower" (a decay) or "higher" (an increase)


_RULES: tuple[_Rule, ...] = (
    _Rule("churn_roc_auc", "roc_auc", "churn", "roc_auc_decay", "lower"),
    _Rule("churn_ece", "ece", "churn", "ece_increase", "higher"),
    _Rule("value_spearman", "spearman", "value", "spearman_decay", "lower"),
    _Rule("value_gini", "gini", "value", "gini_decay", "lower"),
)


def _number(metrics: Mapping[str, float] | None, key: str) -> float:
    value = (metrics or {}).get(key)
    return float(value) if value is not None else float("nan")


def compare_with_training(
    realised: Mapping[str, float],
    churn_training: Mapping[str, float] | None = None,
    value_training: Mapping[str, float] | None = None,
    thresholds: MonitorThresholds | None = None,
) -> list[Check]:
    """Grade the realised figures against the models' out-of-time figures at training.

    `churn_training` and `value_training` are the models' OOT metrics without prefix (as
    `training.ModelInfo.metrics` holds them: `roc_auc`, `ece`, `spearman`, `gini`, ...).
    ROC-AUC, Spearman and Gini are judged on their drop, ECE on its rise; the value bias on its
    own size. A figure that cannot be measured, has no training counterpart, or rests on fewer
    than `min_labelled_rows` users is shown as ok with the reason, not judged: missing evidence
    is not decay.
    """
    thresholds = thresholds or MonitorThresholds()
    training = {"churn": churn_training, "value": value_training}
    checks = []
    for rule in _RULES:
        if rule.realised not in realised:
            continue
        ours = float(realised[rule.realised])
        theirs = _number(training[rule.model], rule.training)
        rows = float(realised.get(f"{rule.model}_rows", 0.0))
        reason = _unjudged(ours, theirs, rows, thresholds.min_labelled_rows)
        if reason:
            checks.append(Check(rule.realised, ours, "ok", reason, reference=theirs))
            continue
        change = ours - theirs
        worse = -change if rule.worse_when == "lower" else change
        band: Band = getattr(thresholds, rule.band)
        status = band.grade(max(worse, 0.0))
        detail = f"{ours:.3f} realised vs {theirs:.3f} at training ({change:+.3f})"
        checks.append(Check(rule.realised, ours, status, detail, reference=theirs))
    if "value_bias" in realised:
        bias = float(realised["value_bias"])
        rows = float(realised.get("value_rows", 0.0))
        reason = _unjudged(bias, 0.0, rows, thresholds.min_labelled_rows)
        reference = _number(value_training, "bias")
        if reason:
            checks.append(Check("value_bias", bias, "ok", reason, reference=reference))
        else:
            status = thresholds.value_bias.grade(abs(bias))
            detail = f"mean prediction {bias:+.0%} off the realised mean"
            checks.append(Check("value_bias", bias, status, detail, reference=reference))
    return checks


def _unjudged(ours: float, theirs: float, rows: float, min_rows: int) -> str:
    """Why a figure is not judged ("" when it is)."""
    if math.isnan(ours):
        return "not measurable on these users (one class only, or no spread)"
    if math.isnan(theirs):
        return "no training figure to compare with"
    if rows < min_rows:
        return f"only {rows:.0f} labelled users (fewer than {min_rows}); not judged"
    return ""


@dataclass(frozen=True)
class RealisedQuality:
    """One scoring run's realised figures and their verdicts against training.

    `run_id` and `scores` say which recorded run it was and where its scores were read from
    (None when judged outside a recorded run).
    """

    scored_as_of: str | None
    metrics: dict[str, float]
    checks: tuple[Check, ...] = field(default_factory=tuple)
    run_id: str | None = None
    scores: str | None = None

    @property
    def status(self) -> Status:
        return worst_status(check.status for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """`scored_as_of`, every figure (NaN as null), the status and the graded checks."""
        return {
            "scored_as_of": self.scored_as_of,
            "run_id": self.run_id,
            "scores": self.scores,
            **{name: json_float(value) for name, value in self.metrics.items()},
            "status": self.status,
            "checks": [check.as_dict() for check in self.checks],
        }


def realised_quality(
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    scored_as_of: date | str | None = None,
    churn_training: Mapping[str, float] | None = None,
    value_training: Mapping[str, float] | None = None,
    thresholds: MonitorThresholds | None = None,
    run_id: str | None = None,
    source: str | None = None,
) -> RealisedQuality:
    """`realised_metrics` and `compare_with_training` for one recorded scoring run."""
    metrics = realised_metrics(scores, labels)
    checks = compare_with_training(metrics, churn_training, value_training, thresholds)
    when = scored_as_of.isoformat() if isinstance(scored_as_of, date) else scored_as_of
    return RealisedQuality(when, metrics, tuple(checks), run_id, source)


def labels_complete(
    scored_as_of: date | datetime | str, horizon_days: int, as_of: date | datetime | str
) -> bool:
    """Whether a run's labels are fully observed: its horizon [T, T + h) ends by as-of.

    Events are read strictly before as-of, so the window is complete when T + h ≤ as-of; a run
    for which this is False is pending, not scored (its labels would undercount the future).
    """
    return labels_complete_on(scored_as_of, horizon_days) <= _naive(as_of)


def labels_complete_on(scored_as_of: date | datetime | str, horizon_days: int) -> pd.Timestamp:
    """The first as-of at which a run's labels are complete: T + horizon (naive UTC)."""
    return _naive(scored_as_of) + timedelta(days=horizon_days)


def _naive(moment: date | datetime | str) -> pd.Timestamp:
    """A moment as naive UTC, the event contract's convention."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
