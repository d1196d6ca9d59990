"""Rolling-origin backtest: is the configuration good at every recent cutoff, or at one?

Why: a single out-of-time cutoff can flatter or punish a model by chance (a holiday month, a
campaign). The backtest repeats training and out-of-time evaluation with each of the last
`origins` cutoffs as the validation origin — training only on cutoffs whose labels end by that
origin — and reports each metric's mean, spread and worst case. Nothing is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from training.config import ExperimentConfig, ModelKind
from training.datasets import TrainingData, training_data_for
from training.evaluate import evaluate
from training.tracking import configure, finite, provenance_tags


@dataclass(frozen=True)
class BacktestResult:
    """Per-origin metrics (model and baselines) and their stability summary."""

    kind: ModelKind
    per_origin: pd.DataFrame  # one row per origin: origin, rows, model metrics, baseline metrics
    summary: pd.DataFrame  # one row per model metric: mean, std, min, max, coefficient of variation
    run_id: str | None = None


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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and evaluate at each origin; (per-origin table, stability summary)."""
    candidates = list(data.schedule[-origins:])
    rows = []
    for done, origin in enumerate(candidates, start=1):
        try:
            split = data.for_model(kind, oot_cutoff=origin)
        except ValueError:
            continue  # too early to have an embargoed training cutoff: not an origin
        outcome = evaluate(split, config)
        row: dict[str, object] = {"origin": origin, "train_cutoffs": len(split.train_cutoffs)}
        row.update(outcome.metrics)
        for name, values in outcome.baseline_metrics.items():
            row.update({f"{name}.{k}": v for k, v in values.items()})
        rows.append(row)
        if on_origin:
            on_origin(origin, done, len(candidates))
    if len(rows) < 2:
        raise ValueError(
            f"only {len(rows)} usable origin(s) for the {kind} model; a backtest needs two or "
            "more: lengthen the data, lower cutoffs.step_days or ask for more --origins"
        )
    per_origin = pd.DataFrame(rows)
    metrics = [
        c for c in per_origin.columns if c not in ("origin", "train_cutoffs") and "." not in c
    ]
    return per_origin, summarise(per_origin, metrics)


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
    results = []
    for kind in models or config.models:
        per_origin, summary = run_backtest(data, config, kind, origins, on_origin)
        run_id = None
        if log_to_mlflow:
            run_id = _log(config, data, kind, per_origin, summary)
        results.append(BacktestResult(kind, per_origin, summary, run_id))
    return results


def _log(
    config: ExperimentConfig,
    data: TrainingData,
    kind: ModelKind,
    per_origin: pd.DataFrame,
    summary: pd.DataFrame,
) -> str:
    import mlflow

    tags = provenance_tags(config.feature_set, data.fingerprint, config.name, kind)
    tags["run_type"] = "backtest"
    with mlflow.start_run(run_name=f"backtest-{config.name}-{kind}", tags=tags) as run:
        mlflow.log_params({"origins": len(per_origin), "config_name": config.name})
        mlflow.log_text(config.to_yaml(), "config/resolved_config.yaml")
        for step, row in per_origin.reset_index(drop=True).iterrows():
            values = {k: float(v) for k, v in row.items() if k not in ("origin",) and "." not in k}
            mlflow.log_metrics(finite({f"oot_{k}": v for k, v in values.items()}), step=int(step))
        for metric, stats in summary.iterrows():
            mlflow.log_metrics(finite({f"{metric}_{k}": float(v) for k, v in stats.items()}))
        mlflow.log_text(per_origin.to_csv(index=False), "backtest/per_origin.csv")
        mlflow.log_text(summary.to_csv(), "backtest/summary.csv")
    return run.info.run_id
