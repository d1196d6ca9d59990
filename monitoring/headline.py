"""The realised figures people read first (the monitor's table, the report), with short headers.

Why a module of its own: the report and the service draw these headers without computing any
metric; keeping them beside the metric code (`monitoring.realised`) made every process that
imports the report (each `retain serve` worker) load scikit-learn and SciPy for a dict.
`realised_metrics` returns more figures, and the JSON carries them all.
"""

from __future__ import annotations

HEADLINE_FIGURES: dict[str, str] = {
    "churn_roc_auc": "ROC-AUC",
    "churn_pr_auc": "PR-AUC",
    "churn_lift_at_10": "lift@10%",
    "churn_ece": "ECE",
    "value_spearman": "value Spearman",
    "value_gini": "value Gini",
    "value_bias": "value bias",
}

__all__ = ["HEADLINE_FIGURES"]
