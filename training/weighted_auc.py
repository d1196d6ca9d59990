"""ROC-AUC of one score under many row-weight vectors at once (the bootstrap's resamples).

Why: a paired bootstrap interval for an AUC margin needs the AUC of two scores under ~1,000
resamples. Calling scikit-learn's `roc_auc_score(sample_weight=…)` per resample sorts the rows
every time; here they are sorted once, rows with equal scores are pooled, and each resample's
AUC is a weighted Mann-Whitney count over the pooled groups: for each score level, the weight
of positives there times the weight of negatives below it plus half of those tied with it,
divided by all positive times all negative weight. That is the area under the weighted ROC
curve with ties drawn as diagonal steps, which is what scikit-learn computes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_roc_auc"]


def weighted_roc_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of `score` for labels `y` (0/1) under each row of `weights` (shape resamples × rows).

    Returns one AUC per row of `weights`; NaN where a weight vector leaves no positive or no
    negative weight (an AUC is undefined there).
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    order = np.argsort(score, kind="stable")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    ordered = weights[:, order]
    positive = y[order] == 1
    pos = np.add.reduceat(np.where(positive, ordered, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0.0, ordered), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negative weight at lower score levels
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    concordant = (pos * (below + 0.5 * neg)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, concordant / pairs, np.nan)
