"""What the value model's run reports beyond ranking: its level, head by head, out of time.

Why: tiers and expected gains multiply the value at its face value, so "is the amount right?"
matters as much as "is the order right?". Everything here is measured on the OOT report half,
which neither early stopping nor the level calibration (both on the fit half) has seen:
- `bias` of the unconditional value (in `value_metrics`) and its decile table;
- `value_if_retained` among users who were in fact retained: its ranking, bias and deciles,
  since that head sets tiers and the value at stake;
- `value_if_churned` among users who were in fact lost: its bias;
- the internal P(lost | X) classifier: ROC-AUC and calibration error;
- the mean value at stake, and the tier cut points the model stores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from training.datasets import ModelData
from training.metrics import bias, churn_metrics, decile_calibration, value_metrics

RETAINED_KEYS = ("spearman", "gini", "bias", "decile_mape", "mean_actual", "mean_predicted", "rows")
CALIBRATION_TABLE = "value_calibration_deciles"
PERCENTILES_TABLE = "retained_value_percentiles"


def value_diagnostics(
    model: Any, data: ModelData, predictions: np.ndarray
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Extra OOT metrics (prefixed `retained_`, `churned_`, `lost_`) and tables for the run."""
    y = data.y_report.to_numpy(dtype=float)
    tables = {
        CALIBRATION_TABLE: decile_calibration(y, predictions).assign(target="unconditional"),
    }
    metrics: dict[str, float] = {}
    percentiles = getattr(model, "retained_value_percentiles_", None)
    if percentiles is not None:
        tables[PERCENTILES_TABLE] = pd.DataFrame(
            {"percentile": np.arange(len(percentiles)), "value_if_retained": percentiles}
        )
    if not getattr(model, "conditional", False) or data.lost_report is None:
        return metrics, tables
    lost = data.lost_report.to_numpy(dtype=float)
    kept = lost == 0
    retained = model.value_if_retained(data.X_report)
    churned = model.value_if_churned(data.X_report)
    head = value_metrics(y[kept], retained[kept]) if kept.any() else {}
    metrics.update({f"retained_{k}": head[k] for k in RETAINED_KEYS if k in head})
    if (~kept).any():
        metrics.update(
            {
                "churned_bias": bias(y[~kept], churned[~kept]),
                "churned_mean_actual": float(y[~kept].mean()),
                "churned_mean_predicted": float(churned[~kept].mean()),
                "churned_rows": float((~kept).sum()),
            }
        )
    outcome = churn_metrics(lost, model.lost_probability(data.X_report))
    metrics.update(
        {
            "lost_roc_auc": outcome["roc_auc"],
            "lost_ece": outcome["ece"],
            "lost_rate": outcome["churn_rate"],
            "mean_value_at_stake": float(np.mean(retained - churned)),
        }
    )
    if kept.any():
        tables[CALIBRATION_TABLE] = pd.concat(
            [
                tables[CALIBRATION_TABLE],
                decile_calibration(y[kept], retained[kept]).assign(
                    target="value_if_retained (retained users)"
                ),
            ],
            ignore_index=True,
        )
    return metrics, tables
