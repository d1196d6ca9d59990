"""Out-of-time metrics for the churn and recall classifiers and the value regressor.

Why these: a retention team contacts the riskiest users first and spends where value is, so
besides ranking quality (ROC-AUC, PR-AUC, Spearman, Gini) we report what happens in the top
10% of the ranking (lift, recall, value captured) and whether the numbers can be read at face
value (Brier score, expected calibration error, decile MAPE, bias). Every function is pure
numpy (decile tables come back as small pandas frames, to be logged as they are).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from training.weighted_auc import weighted_roc_auc

TOP_SHARE = 0.10
ECE_BINS = 10
_BOOTSTRAP_CELLS = 4_000_000  # resamples × rows weighed at once (32 MB of weights)

# The metrics each model must beat every baseline on (runs tag them as
# `beats_baselines_metrics`), and whether higher is better. The value model is judged on its
# ranking (Spearman, Gini) and on its level per tier (decile MAPE: "users in this band are worth
# X" must be right), not on MAE: the median minimises MAE, and for spend that is zero for most
# users a rule that predicts zero wins it while ranking nobody.
CHURN_HEADLINE: tuple[str, ...] = ("roc_auc", "pr_auc")
VALUE_HEADLINE: tuple[str, ...] = ("spearman", "gini", "decile_mape")
HIGHER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "pr_auc": True,
    "lift_at_10": True,
    "recall_at_10": True,
    "brier": False,
    "ece": False,
    "spearman": True,
    "gini": True,
    "decile_mape": False,
    "mae": False,
    "top10_share": True,
}


def _top_mask(score: np.ndarray, share: float) -> np.ndarray:
    """The `share` highest scores (ties broken by position, so exactly ceil(share·n) rows)."""
    n_top = max(1, int(np.ceil(share * len(score))))
    order = np.argsort(-score, kind="stable")
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:n_top]] = True
    return mask


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE with `bins` equal-width probability bins, weighted by the share of rows per bin.

    |mean predicted − observed rate| per bin, averaged with bin sizes as weights: 0 for a
    perfectly calibrated model; 0.05 means predictions are off by 5 points on average.
    """
    y, p = np.asarray(y, dtype=float), np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(p[in_bin].mean() - y[in_bin].mean())
    return float(total)


def lift_and_recall_at(
    y: np.ndarray, score: np.ndarray, share: float = TOP_SHARE
) -> tuple[float, float]:
    """Churn rate in the top `share` over the overall rate, and the share of churners caught."""
    y = np.asarray(y, dtype=float)
    top = _top_mask(np.asarray(score, dtype=float), share)
    base_rate, positives = y.mean(), y.sum()
    lift = float(y[top].mean() / base_rate) if base_rate > 0 else float("nan")
    recall = float(y[top].sum() / positives) if positives > 0 else float("nan")
    return lift, recall


def churn_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, lift and recall in the top 10%, Brier score and ECE."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    both_classes = 0 < y.sum() < len(y)
    lift, recall = lift_and_recall_at(y, p)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both_classes else float("nan"),
        "lift_at_10": lift,
        "recall_at_10": recall,
        "brier": float(brier_score_loss(y, np.clip(p, 0, 1))),
        "ece": expected_calibration_error(y, p),
        "churn_rate": float(y.mean()),
        "rows": float(len(y)),
    }


def recall_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The churn metrics for the return probability of lapsed users (`return_rate`)."""
    metrics = churn_metrics(y, p)
    metrics["return_rate"] = metrics.pop("churn_rate")
    return metrics


def normalized_gini(y: np.ndarray, pred: np.ndarray) -> float:
    """Gini of the actual values ordered by prediction, over the Gini of the perfect order.

    1 means the prediction orders users exactly as their actual value; 0 is random. Unlike
    AUC it weighs users by how much value they bring, which is what matters for spend.
    """

    def gini(actual: np.ndarray, order_by: np.ndarray) -> float:
        order = np.lexsort((np.arange(len(order_by)), -order_by))
        sorted_actual = actual[order]
        cumulative = np.cumsum(sorted_actual) / sorted_actual.sum()
        return float(cumulative.sum() / len(actual) - (len(actual) + 1) / (2 * len(actual)))

    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    if y.sum() == 0:
        return float("nan")
    perfect = gini(y, y)
    return gini(y, pred) / perfect if perfect else float("nan")


def _deciles(pred: np.ndarray) -> np.ndarray:
    """Decile (0..9) of each prediction by rank, ties broken by position."""
    ranks = np.argsort(np.argsort(pred, kind="stable"), kind="stable")
    return np.minimum((ranks * 10) // max(len(pred), 1), 9)


def bias(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean prediction over mean actual, minus one: −0.25 means 25% too low on average."""
    actual = float(np.mean(y)) if len(y) else 0.0
    return float(np.mean(pred) / actual - 1.0) if actual > 0 else float("nan")


def decile_calibration(y: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """Mean predicted and mean actual per predicted-value decile (1 = lowest), with row counts.

    How a value tier is used: "users in this band are worth X on average"; this table says
    whether that X is right, band by band.
    """
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    frame = pd.DataFrame({"predicted": pred, "actual": y, "decile": _deciles(pred) + 1})
    table = frame.groupby("decile").agg(
        predicted=("predicted", "mean"), actual=("actual", "mean"), rows=("actual", "size")
    )
    return table.reset_index()


def decile_mape(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean absolute percentage error of the mean prediction per predicted-value decile.

    Per decile of the prediction: |mean predicted − mean actual| / |mean actual|, averaged over
    deciles whose actual mean is not zero. It asks "is the value of each tier right on
    average?", which is how tiers are used; per-user MAPE is meaningless with many zeros.
    """
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    decile = _deciles(pred)
    errors = []
    for d in range(10):
        in_decile = decile == d
        if in_decile.any():
            actual = y[in_decile].mean()
            if actual != 0:
                errors.append(abs(pred[in_decile].mean() - actual) / abs(actual))
    return float(np.mean(errors)) if errors else float("nan")


def top_share(y: np.ndarray, pred: np.ndarray, share: float = TOP_SHARE) -> float:
    """Share of the total actual future value held by the top `share` of users by prediction."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    total = y.sum()
    return float(y[_top_mask(pred, share)].sum() / total) if total > 0 else float("nan")


def value_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Spearman correlation, normalized Gini, decile MAPE, MAE, top-10% value share, bias."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    constant = np.ptp(pred) == 0 or np.ptp(y) == 0
    return {
        "spearman": float("nan") if constant else float(spearmanr(y, pred).statistic),
        "gini": normalized_gini(y, pred),
        "decile_mape": decile_mape(y, pred),
        "mae": float(np.mean(np.abs(y - pred))),
        "top10_share": top_share(y, pred),
        "mean_actual": float(y.mean()),
        "mean_predicted": float(pred.mean()),
        "bias": bias(y, pred),
        "rows": float(len(y)),
    }


def compare(
    model: dict[str, float], baseline: dict[str, float], headline: tuple[str, ...]
) -> list[str]:
    """The headline metrics on which the model does not beat the baseline (empty: it wins)."""
    shortfalls = []
    for name in headline:
        ours, theirs = model.get(name, float("nan")), baseline.get(name, float("nan"))
        better = ours > theirs if HIGHER_IS_BETTER[name] else ours < theirs
        if not better:
            shortfalls.append(f"{name} {ours:.4f} vs {theirs:.4f}")
    return shortfalls


def auc_difference_interval(
    y: np.ndarray,
    ours: np.ndarray,
    theirs: np.ndarray,
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 7,
) -> tuple[float, float]:
    """A paired bootstrap interval for ROC-AUC(ours) − ROC-AUC(theirs) on the same users.

    Why: a margin of a few thousandths between two models is only a win if it survives
    resampling the users; both scores are resampled together, so their correlation counts.
    Each resample is a vector of multinomial row weights (what drawing rows with replacement
    does); `weighted_roc_auc` scores a block of them at once, ties kept exact (it agrees with
    `roc_auc_score(sample_weight=…)` per resample, on the same draws, and is 13-23 times faster
    on 10,000 rows, 150 times on 1,000: benchmarks/bench_bootstrap_auc.py).
    """
    y, ours, theirs = (np.asarray(a, dtype=float) for a in (y, ours, theirs))
    rng = np.random.default_rng(seed)
    n = len(y)
    differences = np.empty(resamples)
    block = max(1, min(resamples, _BOOTSTRAP_CELLS // max(n, 1)))
    for first in range(0, resamples, block):
        count = min(block, resamples - first)
        drawn = rng.integers(0, n, (count, n))  # the same stream as `count` draws of n rows
        offsets = (np.arange(count) * n)[:, None]
        weight = np.bincount((drawn + offsets).ravel(), minlength=count * n).reshape(count, n)
        differences[first : first + count] = weighted_roc_auc(y, ours, weight) - (
            weighted_roc_auc(y, theirs, weight)
        )
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(differences, [tail, 1.0 - tail])
    return float(low), float(high)
