"""Feature-set ablation: does each group of behavioural_v2 earn its place, out of time?

Why: a feature set grows by accretion unless every group is made to show what it adds. The
ablation trains the churn and value models on the same rows with v1's columns, with all of
v2's, and with v2 minus one group at a time (features.feature_groups: cadence, CLV summaries,
event types, spend shape), and measures each on the out-of-time report half, as `retain train`
does. v1's columns are a subset of v2's with the same definitions, so one v2 build serves every
variant and the only difference between two variants is their columns.

The churn ROC-AUC of each variant also gets a 95% paired bootstrap interval of its difference
with v1 (the same users resampled for both), so "v2 wins" can be told from noise; the best of
the classical baselines (fitted on the same training rows) is shown beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import FEATURE_SET, feature_groups
from training.config import ExperimentConfig, ModelKind
from training.datasets import TrainingData
from training.evaluation import evaluate
from training.metrics import HIGHER_IS_BETTER, auc_difference_interval

V1, V2 = "v1", "v2"
BEST_BASELINE = "best baseline"
# Per model: the metrics the table shows (the headline ones of training.metrics).
SHOWN: dict[ModelKind, tuple[str, ...]] = {
    "churn": ("roc_auc", "pr_auc"),
    "recall": ("roc_auc", "pr_auc"),
    "value": ("spearman", "gini", "decile_mape"),
}
Step = Callable[[str], None]


def variants(data: TrainingData) -> dict[str, list[str]]:
    """Variant name → feature columns: v1, v2, and v2 without each of its groups."""
    v2 = list(data.feature_set.columns)
    groups = feature_groups(data.feature_set)
    if not groups:
        raise ValueError(
            f"an ablation needs data built with behavioural_v2, not {data.feature_set.id}"
        )
    chosen = {V1: list(FEATURE_SET.columns), V2: v2}
    for name, dropped in groups.items():
        chosen[f"v2 − {name}"] = [c for c in v2 if c not in dropped]
    return chosen


@dataclass(frozen=True)
class Ablation:
    """Per variant (rows) the OOT metrics of each model (columns `<model>_<metric>`)."""

    table: pd.DataFrame
    rows: dict[str, int]  # report-half rows per model

    def to_markdown(self) -> str:
        """The table as GitHub Markdown, four decimals (intervals as [low, high])."""
        shown = self.table.copy()
        for column in shown.columns:
            shown[column] = [
                value if isinstance(value, str) else f"{value:.4f}" for value in shown[column]
            ]
        header = "| variant | " + " | ".join(shown.columns) + " |"
        rule = "|---|" + "---:|" * len(shown.columns)
        lines = [f"| {name} | " + " | ".join(row) + " |" for name, row in shown.iterrows()]
        return "\n".join([header, rule, *lines])


def _interval(y: pd.Series, ours: np.ndarray, theirs: np.ndarray) -> str:
    low, high = auc_difference_interval(y.to_numpy(dtype=float), ours, theirs, resamples=500)
    return f"[{low:+.4f}, {high:+.4f}]"


def run_ablation(
    data: TrainingData,
    config: ExperimentConfig,
    models: Sequence[ModelKind] = ("churn", "value"),
    on_step: Step | None = None,
) -> Ablation:
    """Train and measure every variant of `variants(data)` for each model (module docstring)."""
    step = on_step or (lambda message: None)
    chosen = variants(data)
    table = pd.DataFrame(index=[*chosen, BEST_BASELINE])
    rows: dict[str, int] = {}
    for kind in models:
        split = data.for_model(kind)
        rows[kind] = len(split.X_report)
        reference: np.ndarray | None = None
        for name, columns in chosen.items():
            step(f"{kind} model on {name} ({len(columns)} features)")
            outcome = evaluate(split.with_columns(columns), config, with_baselines=name == V1)
            for metric in SHOWN[kind]:
                table.loc[name, f"{kind}_{metric}"] = outcome.metrics[metric]
            if kind != "value":
                if name == V1:
                    reference = outcome.predictions
                    table.loc[name, f"{kind}_roc_auc_vs_v1"] = "–"
                else:
                    assert reference is not None
                    interval = _interval(split.y_report, outcome.predictions, reference)
                    table.loc[name, f"{kind}_roc_auc_vs_v1"] = interval
            if name == V1:
                for metric in SHOWN[kind]:
                    values = [m[metric] for m in outcome.baseline_metrics.values()]
                    best = max(values) if HIGHER_IS_BETTER[metric] else min(values)
                    table.loc[BEST_BASELINE, f"{kind}_{metric}"] = best
                if kind != "value":
                    table.loc[BEST_BASELINE, f"{kind}_roc_auc_vs_v1"] = "–"
    return Ablation(table=table, rows=rows)
