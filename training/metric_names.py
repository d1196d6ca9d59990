"""One vocabulary of logged metric names for `retain train`, `tune`, `backtest` and `evaluate`.

Why one module: a data scientist compares runs of different commands side by side in MLflow;
`oot_pr_auc` must mean the same thing in each, and a tuning run's score must visibly be the
metric promotion judges, measured elsewhere. The names:

- `oot_<metric>`: the model on the out-of-time *report* half (train; backtest, one step per
  origin; evaluate, the users scored at --as-of);
- `<baseline>_oot_<metric>`: a baseline on the same rows;
- `oot_fit_<metric>`: the model on the out-of-time *fit* half, the only rows tuning may judge
  on (each trial; the tuning parent with step = trial number), and `best_oot_fit_<metric>`;
- `<name>_<statistic>`: a statistic over backtest origins (`oot_roc_auc_mean`);
- `<kind>.<name>`: the same names where one run holds two models (`retain evaluate`).

`<metric>` is always a key of `training.metrics` (`roc_auc`, `pr_auc`, `gini`, ...), the names
`PromotionConfig` chooses from, so `retain promote`'s metric is found under `oot_<metric>`.
"""

from __future__ import annotations

from collections.abc import Mapping

from training.registry import OOT_PREFIX

FIT_PREFIX = f"{OOT_PREFIX}fit_"
BEST_PREFIX = "best_"


def report_metric(metric: str, baseline: str | None = None) -> str:
    """`oot_<metric>`, or `<baseline>_oot_<metric>` for a baseline on the same rows."""
    return f"{baseline}_{OOT_PREFIX}{metric}" if baseline else f"{OOT_PREFIX}{metric}"


def fit_metric(metric: str) -> str:
    """`oot_fit_<metric>`: the model on the out-of-time fit half (what tuning judges)."""
    return f"{FIT_PREFIX}{metric}"


def best_fit_metric(metric: str) -> str:
    """`best_oot_fit_<metric>`: the best trial's score so far (a tuning parent run)."""
    return f"{BEST_PREFIX}{fit_metric(metric)}"


def report_metrics(
    model: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """The model's and each baseline's report-half metrics under their logged names."""
    named = {report_metric(metric): value for metric, value in model.items()}
    for baseline, values in baselines.items():
        named.update({report_metric(metric, baseline): value for metric, value in values.items()})
    return named
