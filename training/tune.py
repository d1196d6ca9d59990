"""Hyper-parameter search with Optuna, every trial a nested MLflow run under one parent.

Why these choices:
- RDB storage (`sqlite:///optuna.db` by default): a study survives the process, so running
  `retain tune` again with the same config resumes it and adds trials.
- Trials are judged on the OOT *fit* half only (the rows early stopping already uses), never
  on the report half, so the final `retain train` with the tuned config still reports
  untouched out-of-time metrics. Churn and recall maximise LightGBM's AUC there; value
  minimises the Tweedie deviance of its value booster (its P(lost) classifier keeps its
  settings). `LightGBMPruningCallback` stops hopeless trials on that same metric.
- The best parameters are written as a new experiment config (`<name>-tuned.yaml`), so a
  tuned model is trained, logged and promoted exactly like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import ExperimentConfig, ModelKind, write_config
from training.datasets import ModelData, TrainingData, training_data_for
from training.evaluate import make_estimator
from training.tracking import configure, flatten, provenance_tags

DEFAULT_STORAGE = "sqlite:///optuna.db"
_METRIC: dict[ModelKind, tuple[str, str]] = {
    "churn": ("auc", "maximize"),
    "recall": ("auc", "maximize"),
    "value": ("tweedie", "minimize"),
}


@dataclass(frozen=True)
class TuneResult:
    """What `retain tune` prints."""

    study_name: str
    parent_run_id: str
    trial_run_ids: tuple[str, ...]
    best_value: float
    best_params: dict[str, Any]
    config_path: Path
    n_complete: int
    n_pruned: int
    metric: str


def suggest(trial: Any, kind: ModelKind) -> dict[str, Any]:
    """The search space: the handful of LightGBM knobs that matter most on tabular data."""
    params = {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 255, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 500, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }
    if kind == "value":
        params["tweedie_variance_power"] = trial.suggest_float("tweedie_variance_power", 1.1, 1.8)
    return params


def apply_params(
    config: ExperimentConfig, kind: ModelKind, params: dict[str, Any]
) -> ExperimentConfig:
    """A copy of `config` with `params` set on the model (validated like any config)."""
    section = getattr(config, kind)
    lgb_params = {k: v for k, v in params.items() if k != "tweedie_variance_power"}
    update: dict[str, Any] = {"params": section.params.model_copy(update=lgb_params)}
    if "tweedie_variance_power" in params:
        update["tweedie_variance_power"] = params["tweedie_variance_power"]
    merged = config.model_copy(update={kind: section.model_copy(update=update)})
    return ExperimentConfig.model_validate(merged.model_dump())


def _objective(
    config: ExperimentConfig, data: ModelData, on_trial: Callable[[int, str], None] | None
) -> Callable[[Any], float]:
    import mlflow
    import optuna
    from optuna_integration import LightGBMPruningCallback

    kind = data.kind
    metric = _METRIC[kind][0]

    def objective(trial: Any) -> float:
        params = suggest(trial, kind)
        estimator = make_estimator(kind, apply_params(config, kind, params))
        pruned = False
        with mlflow.start_run(nested=True, run_name=f"trial-{trial.number}") as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            mlflow.log_params({**params, "trial_number": trial.number})
            pruning = LightGBMPruningCallback(trial, metric, valid_name="oot")
            try:
                estimator.fit(
                    data.X_train,
                    data.y_train,
                    data.X_fit,
                    data.y_fit,
                    callbacks=[pruning],
                    **data.fit_outcomes(),
                )
            except optuna.TrialPruned:
                pruned = True
                mlflow.set_tag("optuna_state", "pruned")
            else:
                value = float(estimator.booster_.best_score["oot"][metric])
                mlflow.set_tag("optuna_state", "complete")
                mlflow.log_metrics(
                    {f"oot_fit_{metric}": value, "best_iteration": estimator.best_iteration_}
                )
        if on_trial:
            on_trial(trial.number, "pruned" if pruned else f"{metric}={value:.4f}")
        if pruned:
            raise optuna.TrialPruned()
        return value

    return objective


def tune(
    config: ExperimentConfig,
    events: str | Path | None = None,
    *,
    data: TrainingData | None = None,
    trials: int | None = None,
    kind: ModelKind | None = None,
    storage: str = DEFAULT_STORAGE,
    study_name: str | None = None,
    out_path: str | Path | None = None,
    tracking_uri: str | None = None,
    on_trial: Callable[[int, str], None] | None = None,
) -> TuneResult:
    """Run (or resume) an Optuna study and write the best parameters as a new config."""
    import mlflow
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kind = kind or config.tuning.model
    trials = trials or config.tuning.trials
    metric, direction = _METRIC[kind]
    configure(tracking_uri, config.experiment)
    data = training_data_for(config, events, data)
    model_data = data.for_model(kind)
    name = study_name or f"{config.name}-{kind}"
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=direction,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=config.tuning.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20),
    )
    already = {t.number for t in study.trials}
    tags = provenance_tags(config.feature_set, data.fingerprint, config.name, kind)
    tags.update({"optuna_study": name, "optuna_storage": storage, "run_type": "tuning"})
    with mlflow.start_run(run_name=f"tune-{name}", tags=tags) as parent:
        mlflow.log_params(flatten(kind, config.model_dump(mode="json")[kind]))
        mlflow.log_params({**model_data.summary(), "trials_requested": trials, "metric": metric})
        mlflow.log_text(config.to_yaml(), "config/base_config.yaml")
        study.optimize(
            _objective(config, model_data, on_trial),
            n_trials=trials,
            timeout=config.tuning.timeout_s,
            gc_after_trial=True,
        )
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise RuntimeError(f"study {name!r} has no completed trial (all pruned or failed)")
        best = study.best_trial
        tuned = apply_params(config, kind, best.params).model_copy(
            update={
                "name": f"{config.name}-tuned",
                "description": (
                    f"{config.name} with the best {kind} parameters of Optuna study {name!r} "
                    f"(trial {best.number}, OOT-fit {metric} {best.value:.4f})"
                ),
            }
        )
        path = Path(out_path) if out_path else Path("experiments") / f"{config.name}-tuned.yaml"
        write_config(tuned, path)
        mlflow.log_text(tuned.to_yaml(), "config/tuned_config.yaml")
        mlflow.log_params({f"best.{k}": v for k, v in best.params.items()})
        mlflow.log_metrics(
            {f"best_oot_fit_{metric}": best.value, "trials_total": len(study.trials)}
        )
    new = [t for t in study.trials if t.number not in already]
    return TuneResult(
        study_name=name,
        parent_run_id=parent.info.run_id,
        trial_run_ids=tuple(t.user_attrs.get("mlflow_run_id", "") for t in new),
        best_value=float(best.value),
        best_params=dict(best.params),
        config_path=path,
        n_complete=len(complete),
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        metric=metric,
    )
