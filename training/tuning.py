"""Hyper-parameter search with Optuna, every trial a nested MLflow run under one parent.

Why these choices:
- The objective is the metric `retain promote` judges (`promotion.<kind>_metric` of the config:
  PR-AUC for churn and recall, Gini for value by default), computed like every other metric
  (`training.evaluation.score`) on the finished, calibrated model's predictions. A search that
  maximised anything else could pick parameters promotion then refuses.
- Trials are judged on the OOT *fit* half only (the rows early stopping and calibration already
  use), never on the report half, so the final `retain train` with the tuned config still
  reports untouched out-of-time metrics. Stopping and scoring on the same rows is a mild
  optimism every trial shares; it does not favour one trial over another.
- Pruning watches the booster's own out-of-time metric as it grows (the one early stopping
  uses; the promotion metric exists only for the finished model): it stops hopeless trials,
  it never scores them.
- RDB storage (`sqlite:///optuna.db` by default): a study survives the process, so running
  `retain tune` again resumes it and adds trials. A study remembers the metric, the data and
  the OOT cutoff it was started on, and refuses to resume on other ones: trials scored on
  different rows or by another metric cannot be ranked together.
- The best parameters become a new experiment config, logged with the parent run
  (`config/tuned_config.yaml`) and written to a file only where the caller says (`out_path`):
  tuning never writes into the repository's `experiments/` by itself.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import ExperimentConfig, ModelKind, write_config
from training.datasets import ModelData, TrainingData, training_data_for
from training.evaluation import make_estimator, predict, score
from training.metric_names import best_fit_metric, fit_metric
from training.metrics import HIGHER_IS_BETTER
from training.tracking import configure, finite, flatten, provenance_tags
from training.tuning_report import log_history, log_importances, param_importances

DEFAULT_STORAGE = "sqlite:///optuna.db"
TUNED_CONFIG_ARTIFACT = "config/tuned_config.yaml"
# Each report is a write to the study's database (about 70 ms on SQLite under load, as long as
# a boosting round): every tenth round keeps that overhead small and still stops a hopeless
# trial within ten rounds of the pruner's verdict.
PRUNING_INTERVAL = 10
# What a study is bound to (Optuna user attributes): resuming on anything else is refused.
_STUDY_BINDING = ("metric", "data_fingerprint", "oot_cutoff")


@dataclass(frozen=True)
class TuneResult:
    """What `retain tune` prints."""

    study_name: str
    parent_run_id: str
    trial_run_ids: tuple[str, ...]
    best_value: float
    best_params: dict[str, Any]
    config_path: Path | None  # the file written (`out_path`); None: only the run's artifact
    n_complete: int
    n_pruned: int
    metric: str  # the promotion metric optimised, on the OOT fit half
    importances: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    config_artifact: str = TUNED_CONFIG_ARTIFACT

    @property
    def logged_metric(self) -> str:
        """The parent run's metric holding the best score (`best_oot_fit_<metric>`)."""
        return best_fit_metric(self.metric)

    @property
    def trial_metric(self) -> str:
        """Each trial's score as its run and the parent's history log it (`oot_fit_<metric>`)."""
        return fit_metric(self.metric)


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


class _Pruning:
    """Report the booster's first out-of-time metric to Optuna every `PRUNING_INTERVAL`
    boosting rounds and stop the trial when the pruner says so; the value is signed so that it
    improves in the study's direction (LightGBM's deviance falls while the promotion metric
    must rise)."""

    def __init__(self, trial: Any, maximize: bool) -> None:
        self.trial = trial
        self.maximize = maximize

    def __call__(self, env: Any) -> None:
        import optuna

        if (env.iteration + 1) % PRUNING_INTERVAL:
            return
        name, _, value, higher_is_better = next(
            entry[:4] for entry in env.evaluation_result_list if entry[0] == "oot"
        )
        self.trial.report(value if higher_is_better == self.maximize else -value, env.iteration)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at boosting round {env.iteration} ({name})")


def _objective(
    config: ExperimentConfig,
    data: ModelData,
    metric: str,
    on_trial: Callable[[int, str], None] | None,
) -> Callable[[Any], float]:
    import mlflow
    import optuna

    kind = data.kind

    def objective(trial: Any) -> float:
        params = suggest(trial, kind)
        estimator = make_estimator(kind, apply_params(config, kind, params))
        value, pruned = math.nan, None
        with mlflow.start_run(nested=True, run_name=f"trial-{trial.number}") as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            mlflow.log_params({**params, "trial_number": trial.number})
            try:
                estimator.fit(
                    data.X_train,
                    data.y_train,
                    data.X_fit,
                    data.y_fit,
                    callbacks=[_Pruning(trial, HIGHER_IS_BETTER[metric])],
                    **data.fit_outcomes(),
                )
            except optuna.TrialPruned as stop:  # the run still ends FINISHED, tagged pruned
                mlflow.set_tag("optuna_state", "pruned")
                pruned = stop
            else:
                on_fit_half = score(kind, data.y_fit, predict(kind, estimator, data.X_fit))
                value = float(on_fit_half[metric])
                mlflow.set_tag("optuna_state", "complete")
                mlflow.log_metrics(finite({fit_metric(k): v for k, v in on_fit_half.items()}))
                mlflow.log_metric("best_iteration", estimator.best_iteration_)
        if pruned is not None:
            if on_trial:
                on_trial(trial.number, "pruned")
            raise pruned
        if not math.isfinite(value):
            raise ValueError(
                f"{metric} is undefined on the {kind} model's out-of-time fit half "
                f"({len(data.y_fit):,} rows, one outcome only?): nothing to tune on"
            )
        if on_trial:
            on_trial(trial.number, f"{metric}={value:.4f}")
        return value

    return objective


def _bound_study(name: str, storage: str, config: ExperimentConfig, binding: dict[str, str]) -> Any:
    """Create or resume the study; refuse one bound to another metric, data or OOT cutoff."""
    import optuna

    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="maximize" if HIGHER_IS_BETTER[binding["metric"]] else "minimize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=config.tuning.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20),
    )
    if study.trials:
        bound = {key: study.user_attrs.get(key) for key in _STUDY_BINDING}
        differs = "; ".join(
            f"{key} {bound[key]!r} ≠ {binding[key]!r}"
            for key in _STUDY_BINDING
            if bound[key] != binding[key]
        )
        if differs:
            raise ValueError(
                f"study {name!r} in {storage} holds trials scored otherwise ({differs}): they "
                "cannot be ranked with new ones; pass --study-name NEW to start another"
            )
    for key, value in binding.items():
        study.set_user_attr(key, value)
    return study


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
    """Run (or resume) an Optuna study; log the best parameters as a config (and write it to
    `out_path` when given)."""
    import mlflow
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if out_path is not None and Path(out_path).is_dir():
        raise ValueError(f"--out {out_path} is a directory; name the YAML file to write")
    kind = kind or config.tuning.model
    trials = trials or config.tuning.trials
    metric = config.promotion.metric_for(kind)
    configure(tracking_uri, config.experiment)
    data = training_data_for(config, events, data)
    config = data.apply_to(config)  # what the log decided (training/log_adaptation.py)
    model_data = data.for_model(kind)
    name = study_name or f"{config.name}-{kind}"
    binding = {
        "metric": metric,
        "data_fingerprint": data.fingerprint,
        "oot_cutoff": f"{model_data.oot_cutoff:%Y-%m-%d}",
    }
    study = _bound_study(name, storage, config, binding)
    already = {t.number for t in study.trials}
    tags = provenance_tags(config.feature_set, data.fingerprint, config.name, kind)
    tags.update({"optuna_study": name, "optuna_storage": storage, "run_type": "tuning"})
    tags.update({"tuned_metric": metric, "tuned_on": "oot_fit_half"})
    with mlflow.start_run(run_name=f"tune-{name}", tags=tags) as parent:
        mlflow.log_params(flatten(kind, config.model_dump(mode="json")[kind]))
        mlflow.log_params({**model_data.summary(), "trials_requested": trials, "metric": metric})
        mlflow.log_text(config.to_yaml(), "config/base_config.yaml")
        study.optimize(
            _objective(config, model_data, metric, on_trial),
            n_trials=trials,
            timeout=config.tuning.timeout_s,
            gc_after_trial=True,
        )
        complete = log_history(study, metric, parent.info.run_id)
        if not complete:
            raise RuntimeError(f"study {name!r} has no completed trial (all pruned or failed)")
        importances, note = param_importances(study, config.tuning.seed)
        log_importances(importances, note, complete)
        best = study.best_trial
        tuned = apply_params(config, kind, best.params).model_copy(
            update={
                "name": f"{config.name}-tuned",
                "description": (
                    f"{config.name} with the best {kind} parameters of Optuna study {name!r} "
                    f"(trial {best.number}, {fit_metric(metric)} {best.value:.4f})"
                ),
            }
        )
        with tempfile.TemporaryDirectory() as folder:  # the very file `out_path` would hold
            write_config(tuned, Path(folder, TUNED_CONFIG_ARTIFACT))
            mlflow.log_artifacts(folder)
        path = write_config(tuned, out_path) if out_path is not None else None
        mlflow.log_params({f"best.{k}": v for k, v in best.params.items()})
        mlflow.log_metrics({"trials_total": len(study.trials), "trials_complete": complete})
    new = [t for t in study.trials if t.number not in already]
    return TuneResult(
        study_name=name,
        parent_run_id=parent.info.run_id,
        trial_run_ids=tuple(t.user_attrs.get("mlflow_run_id", "") for t in new),
        best_value=float(best.value),
        best_params=dict(best.params),
        config_path=path,
        n_complete=complete,
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        metric=metric,
        importances=importances,
        notes=(note,) if note else (),
    )
