"""What a tuning parent run shows: Optuna's optimisation history and parameter importances.

Why in MLflow and not only in the Optuna database: the parent run is where a data scientist
looks. The history is a metric with step = trial number (`oot_fit_<metric>`, and the running
`best_oot_fit_<metric>`), so MLflow draws it like a training curve, plus a PNG and every
trial as CSV. Importances are fANOVA shares (`optuna.importance.get_param_importances` with a
fixed seed, so a rerun gives the same numbers), logged as `param_importance.<name>` metrics, a
JSON and a bar chart. Below `MIN_TRIALS_FOR_IMPORTANCE` complete trials the shares are
arithmetic on too few points (one trial gives every parameter the same share, two give one
of them all of it), so the run says so instead of logging them.
"""

from __future__ import annotations

import time
from typing import Any

from training import plots
from training.metric_names import best_fit_metric, fit_metric
from training.metrics import HIGHER_IS_BETTER

MIN_TRIALS_FOR_IMPORTANCE = 3
IMPORTANCE_PREFIX = "param_importance."
_BATCH = 1000  # MLflow's limit on metrics per `log_batch` call


def _complete(study: Any) -> list[Any]:
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return sorted(complete, key=lambda t: t.number)


def log_history(study: Any, metric: str, run_id: str) -> int:
    """Log every complete trial of the study (earlier sessions' too) to the active parent run;
    returns how many there are."""
    import mlflow
    from mlflow.entities import Metric

    complete = _complete(study)
    if not complete:
        return 0
    better = max if HIGHER_IS_BETTER[metric] else min
    numbers, values, best = [], [], []
    for trial in complete:
        numbers.append(trial.number)
        values.append(float(trial.value))
        best.append(better(best[-1], values[-1]) if best else values[-1])
    now = int(time.time() * 1000)
    entries = [
        Metric(name, value, now, number)
        for number, value, running in zip(numbers, values, best, strict=True)
        for name, value in ((fit_metric(metric), value), (best_fit_metric(metric), running))
    ]
    client = mlflow.MlflowClient()
    for start in range(0, len(entries), _BATCH):
        client.log_batch(run_id, metrics=entries[start : start + _BATCH])
    figure = plots.optimization_history_figure(numbers, values, best, fit_metric(metric))
    mlflow.log_figure(figure, "plots/optimization_history.png")
    mlflow.log_text(study.trials_dataframe().to_csv(index=False), "tuning/trials.csv")
    return len(complete)


def param_importances(study: Any, seed: int) -> tuple[dict[str, float], str | None]:
    """fANOVA importance per parameter, or ({}, why not) when the study cannot support it."""
    import optuna

    complete = _complete(study)
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return {}, (
            f"parameter importances need at least {MIN_TRIALS_FOR_IMPORTANCE} complete trials; "
            f"the study has {len(complete)}: run `retain tune` again to add trials (it resumes)"
        )
    if len({t.value for t in complete}) == 1:
        return {}, (
            f"all {len(complete)} complete trials scored the same: no parameter explains any "
            "difference, so no importances are logged"
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    shares = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return {name: float(share) for name, share in shares.items()}, None


def log_importances(importances: dict[str, float], note: str | None, trials: int) -> None:
    """The importances over `trials` complete trials (metrics, JSON, chart) on the active
    run, or the note saying why there are none."""
    import mlflow

    if note is not None:
        mlflow.set_tag("param_importance_note", note)
        return
    mlflow.log_metrics({f"{IMPORTANCE_PREFIX}{name}": v for name, v in importances.items()})
    mlflow.log_dict(importances, "tuning/param_importances.json")
    figure = plots.param_importance_figure(importances, trials)
    mlflow.log_figure(figure, "plots/param_importances.png")
