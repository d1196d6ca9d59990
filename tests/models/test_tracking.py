"""MLflow for real: a SQLite store in a temporary folder, runs, artifacts, registry, aliases."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest

from tests.stores import new_mlflow_store
from training.config import MODEL_KINDS, ChurnLightGBMParams, ExperimentConfig
from training.datasets import TrainingData
from training.registry import load_champion, model_info, versions
from training.runs import TrainResult
from training.tracking import configure
from training.train import train_models

CHURN_PLOTS = {"roc_curve", "pr_curve", "calibration", "gain_lift", "feature_importance"}


@pytest.fixture(scope="module")
def trained_store(
    tmp_path_factory: pytest.TempPathFactory,
    training_data: TrainingData,
    config: ExperimentConfig,
    empty_mlflow_db: Path,
) -> tuple[str, list[TrainResult]]:
    """All three models trained once into a store the read-only tests of this module share."""
    uri = new_mlflow_store(tmp_path_factory.mktemp("mlflow"), empty_mlflow_db)
    return uri, train_models(config, data=training_data, tracking_uri=uri)


@pytest.fixture
def trained(
    trained_store: tuple[str, list[TrainResult]], monkeypatch: pytest.MonkeyPatch
) -> list[TrainResult]:
    """The shared store, made the active one again (another test may have moved MLflow)."""
    uri, results = trained_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    configure(uri)
    return results


def _artifacts(client: mlflow.MlflowClient, run_id: str, path: str = "") -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_a_run_logs_provenance_config_metrics_and_artifacts(
    trained, training_data: TrainingData
) -> None:
    churn = next(r for r in trained if r.kind == "churn")
    client = mlflow.MlflowClient()
    run = client.get_run(churn.run_id)
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert tags["feature_set_id"] == "behavioural_v1"
    assert tags["data_fingerprint"] == training_data.fingerprint
    assert len(tags["git_commit"]) in (40, len("unknown"))
    assert params["windows.churn_horizon_days"] == "30"
    assert params["oot_cutoff"] == f"{training_data.oot_cutoff:%Y-%m-%d}"
    assert params["churn.params.num_leaves"] == str(ChurnLightGBMParams().num_leaves)
    for name in ("roc_auc", "pr_auc", "lift_at_10", "recall_at_10", "brier", "ece"):
        assert np.isfinite(metrics[f"oot_{name}"])
        assert f"recency_rule_oot_{name}" in metrics and f"rfm_logreg_oot_{name}" in metrics
    artifacts = _artifacts(client, churn.run_id)
    assert "config/resolved_config.yaml" in artifacts
    assert {f"plots/{name}.png" for name in CHURN_PLOTS} <= artifacts
    assert "plots/contributions_summary.png" in artifacts
    assert "figures" not in tags  # the tag only says when they were skipped
    assert "tables/contributions_summary.csv" in artifacts
    logged = mlflow.models.get_model_info(churn.model_uri)
    assert logged.signature is not None and logged.saved_input_example_info is not None
    assert [c.name for c in logged.signature.inputs][:1] == ["days_since_last_event"]


def test_value_run_logs_value_metrics(trained) -> None:
    value = next(r for r in trained if r.kind == "value")
    client = mlflow.MlflowClient()
    run = client.get_run(value.run_id)
    metrics = run.data.metrics
    for name in ("spearman", "gini", "decile_mape", "mae", "top10_share", "bias"):
        assert f"oot_{name}" in metrics and f"last_period_spend_oot_{name}" in metrics
    for name in ("retained_bias", "retained_decile_mape", "churned_bias", "lost_roc_auc"):
        assert np.isfinite(metrics[f"oot_{name}"])
    assert run.data.params["rows_without_outcome"] == "0"
    artifacts = _artifacts(client, value.run_id)
    assert "tables/value_calibration_deciles.csv" in artifacts
    assert "plots/retained_value_deciles.png" in artifacts
    assert "tiers/retained_value_percentiles.json" in artifacts


def test_recall_run_logs_classifier_metrics_against_both_baselines(trained) -> None:
    recall = next(r for r in trained if r.kind == "recall")
    client = mlflow.MlflowClient()
    run = client.get_run(recall.run_id)
    assert run.data.tags["model_kind"] == "recall"
    for name in ("roc_auc", "pr_auc", "brier", "ece", "return_rate"):
        assert f"oot_{name}" in run.data.metrics
        assert f"recency_rule_oot_{name}" in run.data.metrics
        assert f"rfm_logreg_oot_{name}" in run.data.metrics
    assert {f"plots/{name}.png" for name in CHURN_PLOTS} <= _artifacts(client, recall.run_id)


def test_first_model_is_champion_and_next_is_only_challenger(
    trained, training_data: TrainingData, config: ExperimentConfig, tracking_uri: str
) -> None:
    assert {(r.kind, r.version) for r in trained} == {(k, "1") for k in MODEL_KINDS}
    assert all(set(r.aliases) == {"challenger", "champion"} for r in trained)
    # A fresh store of our own: this test adds versions, the shared one stays as trained.
    first = train_models(
        config, data=training_data, tracking_uri=tracking_uri, models=("churn",), figures=False
    )
    assert first[0].version == "1" and set(first[0].aliases) == {"challenger", "champion"}
    again = train_models(
        config, data=training_data, tracking_uri=tracking_uri, models=("churn",), figures=False
    )
    assert again[0].version == "2" and again[0].aliases == ["challenger"]
    assert model_info("churn").version == "1"
    assert model_info("churn", alias="challenger").version == "2"
    assert versions("churn") == ["1", "2"]
    assert [m.name for m in mlflow.MlflowClient().search_registered_models()] == ["retain-churn"]


def test_every_registered_model_exists_under_its_exact_name(trained) -> None:
    names = {m.name for m in mlflow.MlflowClient().search_registered_models()}
    assert names == {"retain-churn", "retain-recall", "retain-value"}


def test_champion_loads_by_alias_and_predicts_like_the_trained_model(
    trained, training_data: TrainingData
) -> None:
    estimator, info = load_champion("churn")
    assert info.name == "retain-churn" and info.feature_set_id == "behavioural_v1"
    assert 0.5 < info.metrics["roc_auc"] <= 1.0
    rows = training_data.for_model("churn").X_report
    pyfunc = mlflow.pyfunc.load_model("models:/retain-churn@champion")
    np.testing.assert_allclose(pyfunc.predict(rows), estimator.churn_probability(rows))
    assert estimator.contributions(rows.head(3)).shape == (3, rows.shape[1] + 1)


def test_recall_champion_pyfunc_predicts_the_return_probability(
    trained, training_data: TrainingData
) -> None:
    estimator, info = load_champion("recall")
    assert info.name == "retain-recall"
    rows = training_data.for_model("recall").X_report
    pyfunc = mlflow.pyfunc.load_model("models:/retain-recall@champion")
    returned = estimator.return_probability(rows)
    np.testing.assert_allclose(pyfunc.predict(rows), returned)
    np.testing.assert_allclose(pyfunc.unwrap_python_model().return_probability(rows), returned)
    assert not hasattr(estimator, "churn_probability")  # a return model is never read as churn


def test_value_champion_pyfunc_forwards_the_value_heads_and_tier_cut_points(
    trained, training_data: TrainingData
) -> None:
    estimator, _ = load_champion("value")
    rows = training_data.for_model("value").X_report.head(50)
    pyfunc = mlflow.pyfunc.load_model("models:/retain-value@champion")
    wrapped = pyfunc.unwrap_python_model()
    np.testing.assert_allclose(pyfunc.predict(rows), estimator.predict(rows))
    np.testing.assert_allclose(wrapped.value_if_retained(rows), estimator.value_if_retained(rows))
    np.testing.assert_allclose(wrapped.value_if_churned(rows), estimator.value_if_churned(rows))
    np.testing.assert_allclose(
        wrapped.expected_value(rows, 0.25), estimator.expected_value(rows, 0.25)
    )
    cuts = wrapped.retained_value_percentiles_
    assert cuts.shape == (101,) and (np.diff(cuts) >= 0).all() and cuts[0] >= 0.01
    logged = mlflow.artifacts.load_dict(
        f"runs:/{next(r for r in trained if r.kind == 'value').run_id}/"
        "tiers/retained_value_percentiles.json"
    )
    np.testing.assert_allclose(logged["value_if_retained"], cuts)
    assert estimator.contributions(rows.head(3)).shape == (3, rows.shape[1] + 1)
