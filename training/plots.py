"""Diagnostic charts logged with every run: curves, calibration, gains, importance, SHAP.

Why figures built on `matplotlib.figure.Figure` (Agg canvas) and not pyplot: no global state,
no GUI backend, nothing changed at import; each function returns a titled figure with
labelled axes (units in the labels), and `save_all` writes PNGs for MLflow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

Curves = dict[str, np.ndarray]  # label (model or baseline name) -> scores on the same rows


def _figure(title: str, xlabel: str, ylabel: str, size: tuple[float, float] = (6, 5)):
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    return figure, axes


def roc_figure(y: np.ndarray, scores: Curves, outcome: str = "churn") -> Figure:
    """ROC curves; `outcome` names the positive class in the titles (churn, return)."""
    figure, axes = _figure(
        f"ROC curve, out-of-time {outcome}",
        "false positive rate (share of negatives)",
        f"true positive rate (share of {outcome} cases)",
    )
    for label, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        axes.plot(fpr, tpr, label=label)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="random")
    axes.legend(loc="lower right")
    return figure


def pr_figure(y: np.ndarray, scores: Curves, outcome: str = "churn") -> Figure:
    figure, axes = _figure(
        f"Precision–recall curve, out-of-time {outcome}",
        f"recall (share of {outcome} cases found)",
        f"precision (share of flagged who {outcome})",
    )
    for label, score in scores.items():
        precision, recall, _ = precision_recall_curve(y, score)
        axes.plot(recall, precision, label=label)
    axes.axhline(float(np.mean(y)), linestyle=":", color="grey", label=f"{outcome} rate")
    axes.legend(loc="lower left")
    return figure


def calibration_figure(
    y: np.ndarray, scores: Curves, bins: int = 10, outcome: str = "churn"
) -> Figure:
    figure, axes = _figure(
        f"Calibration, out-of-time {outcome}",
        f"mean predicted {outcome} probability (per bin)",
        f"observed {outcome} rate (per bin)",
    )
    edges = np.linspace(0, 1, bins + 1)
    for label, score in scores.items():
        which = np.clip(np.digitize(score, edges) - 1, 0, bins - 1)
        frame = pd.DataFrame({"p": score, "y": y, "bin": which}).groupby("bin").mean()
        axes.plot(frame["p"], frame["y"], marker="o", label=label)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    axes.legend(loc="upper left")
    return figure


def gain_figure(y: np.ndarray, scores: Curves, what: str) -> Figure:
    """Cumulative gain: share of churners (or of future value) in the top x% of the ranking."""
    figure = Figure(figsize=(11, 5), layout="constrained")
    gain_axes, lift_axes = figure.subplots(1, 2)
    figure.suptitle(f"Gain and lift, out-of-time {what}")
    total = float(np.sum(y))
    for label, score in scores.items():
        ordered = np.asarray(y, dtype=float)[np.argsort(-score, kind="stable")]
        share = np.arange(1, len(ordered) + 1) / len(ordered)
        gain = np.cumsum(ordered) / total if total else np.zeros_like(share)
        gain_axes.plot(share * 100, gain * 100, label=label)
        lift_axes.plot(share * 100, np.divide(gain, share), label=label)
    gain_axes.plot([0, 100], [0, 100], linestyle=":", color="grey", label="random")
    gain_axes.set(
        xlabel="users contacted, top % by score",
        ylabel=f"% of {what} captured",
        title="Cumulative gain",
    )
    lift_axes.axhline(1.0, linestyle=":", color="grey", label="random")
    lift_axes.set(xlabel="users contacted, top % by score", ylabel="lift (× random)", title="Lift")
    for axes in (gain_axes, lift_axes):
        axes.grid(alpha=0.3)
        axes.legend()
    return figure


def value_deciles_figure(
    y: np.ndarray, scores: Curves, title: str = "Predicted vs actual future value"
) -> Figure:
    figure, axes = _figure(
        f"{title} by predicted decile",
        "predicted-value decile (1 = lowest)",
        "mean future value (currency units)",
    )
    for label, score in scores.items():
        decile = pd.qcut(pd.Series(score).rank(method="first"), 10, labels=False) + 1
        frame = pd.DataFrame({"pred": score, "y": y, "decile": decile}).groupby("decile").mean()
        axes.plot(frame.index, frame["y"], marker="o", label=f"{label}: actual")
        axes.plot(frame.index, frame["pred"], linestyle="--", label=f"{label}: predicted")
    axes.legend()
    return figure


def importance_figure(importance: pd.Series, top: int = 20) -> Figure:
    head = importance.head(top)[::-1]
    figure, axes = _figure(
        f"Feature importance (total gain, top {len(head)})",
        "total split gain (loss reduction)",
        "feature",
        (7, 6),
    )
    axes.barh(head.index, head.to_numpy())
    return figure


def contribution_figure(
    contributions: pd.DataFrame,
    X: pd.DataFrame,  # noqa: N803
    space: str,
    top: int = 15,
) -> Figure:
    """SHAP-style summary: each dot a user, x = contribution, colour = feature value rank."""
    features = contributions.drop(columns="bias")
    order = features.abs().mean().sort_values(ascending=False).head(top).index[::-1]
    figure, axes = _figure(
        f"Feature contributions (TreeSHAP, top {len(order)})",
        f"contribution to the {space}",
        "feature",
        (8, 7),
    )
    rng = np.random.default_rng(0)
    points = None
    sample = (
        features.index if len(features) <= 2000 else rng.choice(features.index, 2000, replace=False)
    )
    for row, name in enumerate(order):
        values = features.loc[sample, name].to_numpy()
        colour = X.loc[sample, name].rank(pct=True).fillna(0.5).to_numpy()
        jitter = rng.uniform(-0.3, 0.3, len(values))
        points = axes.scatter(
            values, row + jitter, c=colour, cmap="coolwarm", vmin=0, vmax=1, s=4, alpha=0.6
        )
    if points is not None:
        figure.colorbar(points, ax=axes, label="feature value (percentile: blue low, red high)")
    axes.set_yticks(range(len(order)), list(order))
    axes.axvline(0, color="grey", linewidth=0.8)
    return figure


def save_all(figures: dict[str, Figure], folder: Path) -> list[Path]:
    """Write each figure as `<name>.png` in `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=100)
        paths.append(path)
    return paths


def optimization_history_figure(
    trials: list[int], values: list[float], best: list[float], metric: str
) -> Figure:
    """Each complete trial's score and the best so far, by trial number (Optuna's history)."""
    figure, axes = _figure(
        f"Tuning history: {metric} on the out-of-time fit half",
        "trial number",
        metric,
    )
    axes.scatter(trials, values, s=14, label="trial")
    axes.step(trials, best, where="post", color="black", label="best so far")
    axes.legend(loc="best")
    return figure


def param_importance_figure(importances: dict[str, float], trials: int) -> Figure:
    """fANOVA importance of each tuned parameter (shares summing to one), largest on top."""
    ordered = sorted(importances.items(), key=lambda item: item[1])
    figure, axes = _figure(
        f"Parameter importance over {trials} complete trials (fANOVA)",
        "share of the score's variance explained",
        "parameter",
    )
    axes.barh([name for name, _ in ordered], [value for _, value in ordered])
    return figure
