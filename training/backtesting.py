"""Rolling-origin backtest: is the configuration good at every recent cutoff, or at one?

Why: a single out-of-time cutoff can flatter or punish a model by chance (a holiday month, a
campaign). The backtest repeats training and out-of-time evaluation with each of the last
`origins` cutoffs as the validation origin — training only on cutoffs whose labels end by that
origin — and reports each metric's mean, spread and worst case, with the baselines measured
on the same rows at every origin (a model that only beats them on average is not good enough).
Nothing is registered.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pandas as pd

from training.config import ExperimentConfig, ModelKind
from training.datasets import TrainingData, training_data_for
from training.evaluation import evaluate
from training.metric_names import report_metric, report_metrics
from training.metrics import HIGHER_IS_BETTER
from training.registry import OOT_PREFIX
from training.tracking import configure, finite, provenance_tags
from training.train import OPTIONAL_MODELS

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestResult:
    """Per-origin metrics (model and baselines) and their stability summary.

    Columns and summary rows use the logged names (`training.metric_names`): `oot_<metric>`
    for the model, `<baseline>_oot_<metric>` for each baseline, on each origin's report half.
    """

    kind: ModelKind
    per_origin: pd.DataFrame  # one row per origin: origin, train_cutoffs, model and baselines
    summary: pd.DataFrame  # one row per model metric: mean, std, min, max, coefficient of variation
    baselines: tuple[str, ...] = ()
    run_id: str | None = None

    def versus_baselines(self, metrics: Sequence[str]) -> pd.DataFrame:
        """Per origin and metric: the model, each baseline, and the model's margin over the
        best baseline (positive: the model is better, whichever way the metric points)."""
        rows = []
        for _, origin in self.per_origin.iterrows():
            for metric in metrics:
                theirs = {b: float(origin[report_metric(metric, b)]) for b in self.baselines}
                ours = float(origin[report_metric(metric)])
                sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
                known = [sign * v for v in theirs.values() if not math.isnan(v)]
                best = max(known) if known else math.nan  # no baseline scored: no margin
                rows.append(
                    {"origin": origin["origin"], "metric": metric, "model": ours, **theirs}
                    | {"margin": sign * ours - best}
                )
        return pd.DataFrame(rows)


def widen_schedule(config: ExperimentConfig, origins: int) -> ExperimentConfig:
    """More cutoffs, so the earliest origin still has as many training cutoffs as the latest."""
    cutoffs = config.cutoffs.model_copy(update={"count": config.cutoffs.count + origins - 1})
    return config.model_copy(update={"cutoffs": cutoffs})


def summarise(per_origin: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Mean, standard deviation, min, max and coefficient of variation of each metric."""
    table = per_origin[metrics].agg(["mean", "std", "min", "max"]).T
    table["cv"] = table["std"] / table["mean"].abs()
    return table


def run_backtest(
    data: TrainingData,
    config: ExperimentConfig,
    kind: ModelKind,
    origins: int,
    on_origin: Callable[[datetime, int, int], None] | None = None,
) -> BacktestResult:
    """Train and evaluate at each origin: the per-origin table and its stability summary."""
    candidates = list(data.schedule[-origins:])
    rows = []
    baselines: tuple[str, ...] = ()
    unusable: list[str] = []
    for done, origin in enumerate(candidates, start=1):
        try:
            split = data.for_model(kind, oot_cutoff=origin)
        except ValueError as error:
            # Too early for an embargoed training cutoff, or labels of one outcome: not an origin.
            unusable.append(f"{origin:%Y-%m-%d}: {error}")
            continue
        outcome = evaluate(split, config)
        baselines = tuple(outcome.baseline_metrics)
        row: dict[str, object] = {"origin": origin, "train_cutoffs": len(split.train_cutoffs)}
        row.update(report_metrics(outcome.metrics, outcome.baseline_metrics))
        rows.append(row)
        if on_origin:
            on_origin(origin, done, len(candidates))
    if len(rows) < 2:
        why = f" ({unusable[-1]})" if unusable else ""
        raise ValueError(
            f"only {len(rows)} usable origin(s) for the {kind} model{why}; a backtest needs two "
            "or more: lengthen the data, lower cutoffs.step_days or ask for more --origins"
        )
    per_origin = pd.DataFrame(rows)
    own = [c for c in per_origin.columns if isinstance(c, str) and c.startswith(OOT_PREFIX)]
    return BacktestResult(kind, per_origin, summarise(per_origin, own), baselines)


def backtest(
    config: ExperimentConfig,
    events: str | Path | None = None,
    *,
    data: TrainingData | None = None,
    origins: int = 3,
    models: tuple[ModelKind, ...] | None = None,
    tracking_uri: str | None = None,
    log_to_mlflow: bool = True,
    on_origin: Callable[[datetime, int, int], None] | None = None,
) -> list[BacktestResult]:
    """Rolling-origin evaluation of `config` at its last `origins` cutoffs, per model."""
    wide = widen_schedule(config, origins)
    if log_to_mlflow:
        configure(tracking_uri, config.experiment)
    data = training_data_for(wide, events, data)
    config = data.apply_to(config)  # what the log decided (training/log_adaptation.py)
    results = []
    for kind in models or config.models:
        try:
            result = run_backtest(data, config, kind, origins, on_origin)
        except ValueError as error:
            if models or kind not in OPTIONAL_MODELS:
                raise  # asked for by name, or required: the backtest cannot stand without it
            # As `retain train` does: a log that cannot train the recall model backtests the rest.
            _logger.warning(f"{kind} model not backtested: {error}")
            continue
        if log_to_mlflow:
            result = replace(result, run_id=_log(config, data, result))
        results.append(result)
    return results


def _log(config: ExperimentConfig, data: TrainingData, result: BacktestResult) -> str:
    """One run per model: every origin's metrics as one step (step = origin index, 0 = the
    earliest origin; the `origin.<step>` parameters give each step's cutoff date), the summary
    statistics as `<metric>_<statistic>`, and both tables as CSV."""
    import mlflow

    kind, per_origin = result.kind, result.per_origin.reset_index(drop=True)
    tags = provenance_tags(config.feature_set, data.fingerprint, config.name, kind)
    tags["run_type"] = "backtest"
    with mlflow.start_run(run_name=f"backtest-{config.name}-{kind}", tags=tags) as run:
        mlflow.log_params({"origins": len(per_origin), "config_name": config.name})
        mlflow.log_params({f"origin.{i}": f"{t:%Y-%m-%d}" for i, t in per_origin["origin"].items()})
        mlflow.log_text(config.to_yaml(), "config/resolved_config.yaml")
        for step, row in per_origin.drop(columns="origin").iterrows():
            mlflow.log_metrics(finite(row.astype(float).to_dict()), step=int(step))
        for metric, stats in result.summary.iterrows():
            mlflow.log_metrics(finite({f"{metric}_{k}": float(v) for k, v in stats.items()}))
        mlflow.log_text(per_origin.to_csv(index=False), "backtest/per_origin.csv")
        mlflow.log_text(result.summary.to_csv(), "backtest/summary.csv")
    return run.info.run_id
