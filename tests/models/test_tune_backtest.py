"""Optuna tuning (RDB storage, nested MLflow runs, resumable) and the rolling-origin backtest."""

from __future__ import annotations

from pathlib import Path

import mlflow
import optuna
import pytest

from training.backtest import backtest
from training.config import ExperimentConfig, load_config
from training.datasets import TrainingData
from training.tune import tune


def test_tuning_nests_trials_under_one_parent_and_writes_a_config(
    tmp_path: Path, tracking_uri: str, training_data: TrainingData, config: ExperimentConfig
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    out = tmp_path / "tuned.yaml"
    result = tune(config, data=training_data, trials=3, kind="churn", storage=storage, out_path=out)
    assert len(result.trial_run_ids) == 3 and result.n_complete >= 1
    client = mlflow.MlflowClient()
    for run_id in result.trial_run_ids:
        trial = client.get_run(run_id)
        assert trial.data.tags["mlflow.parentRunId"] == result.parent_run_id
        assert "learning_rate" in trial.data.params
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["run_type"] == "tuning"
    assert parent.data.metrics["best_oot_fit_auc"] == pytest.approx(result.best_value)

    tuned = load_config(out)
    assert tuned.name == "test-tuned"
    assert tuned.churn.params.learning_rate == pytest.approx(result.best_params["learning_rate"])
    assert tuned.churn.params.num_leaves == result.best_params["num_leaves"]

    again = tune(config, data=training_data, trials=1, kind="churn", storage=storage, out_path=out)
    assert len(again.trial_run_ids) == 1  # resumed: the study now holds four trials
    study = optuna.load_study(study_name=result.study_name, storage=storage)
    assert len(study.trials) == 4


def test_backtest_reports_each_origin_and_metric_stability(
    tracking_uri: str, training_data: TrainingData, config: ExperimentConfig
) -> None:
    (result,) = backtest(config, data=training_data, origins=3, models=("churn",))
    origins = list(result.per_origin["origin"])
    assert origins == sorted(origins) and len(origins) >= 2
    assert origins[-1] == training_data.schedule[-1]
    assert (result.per_origin["roc_auc"] > 0.6).all()
    row = result.summary.loc["roc_auc"]
    assert row["min"] <= row["mean"] <= row["max"]
    assert row["std"] == pytest.approx(result.per_origin["roc_auc"].std())
    run = mlflow.MlflowClient().get_run(result.run_id)
    assert run.data.tags["run_type"] == "backtest"
    assert "roc_auc_mean" in run.data.metrics
