"""Promotion through the registry: a worse challenger is refused, a better one accepted,
rollback is one call. All on a real MLflow SQLite store and on the same out-of-time rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.stores import copy_mlflow_store, new_mlflow_store
from training.config import ExperimentConfig
from training.datasets import TrainingData
from training.promotion import promote, rollback
from training.registry import challenger_version, champion_version, model_info
from training.train import train_models


def _weak(config: ExperimentConfig) -> ExperimentConfig:
    """Two trees of two leaves: a model that is clearly worse than the default one."""
    churn = config.churn.model_copy(
        update={
            "num_boost_round": 2,
            "params": config.churn.params.model_copy(update={"num_leaves": 2}),
        }
    )
    return config.model_copy(update={"name": "weak", "churn": churn})


@pytest.fixture(scope="module")
def weak_champion_store(
    tmp_path_factory: pytest.TempPathFactory,
    training_data: TrainingData,
    config: ExperimentConfig,
    empty_mlflow_db: Path,
) -> Path:
    """v1 = a weak churn model (champion, being first); v2 = the default model (challenger).

    Trained once for the module; each test gets a copy (`weak_champion`), since promotions and
    rollbacks move the aliases.
    """
    root = tmp_path_factory.mktemp("weak_champion")
    uri = new_mlflow_store(root, empty_mlflow_db)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        train_models(
            _weak(config), data=training_data, tracking_uri=uri, models=("churn",), figures=False
        )
        train_models(config, data=training_data, tracking_uri=uri, models=("churn",), figures=False)
        assert (champion_version("churn"), challenger_version("churn")) == ("1", "2")
    return root


@pytest.fixture
def weak_champion(
    tracking_uri: str, tmp_path: Path, weak_champion_store: Path, config: ExperimentConfig
):
    """A private copy of `weak_champion_store` at this test's `tracking_uri` (in `tmp_path`)."""
    from training.tracking import configure

    copy_mlflow_store(weak_champion_store, tmp_path)
    configure(tracking_uri)  # the module's training left MLflow pointed at the original
    assert (champion_version("churn"), challenger_version("churn")) == ("1", "2")
    return config


def test_better_challenger_is_promoted_and_worse_one_refused(
    weak_champion: ExperimentConfig, training_data: TrainingData, tracking_uri: str
) -> None:
    decision = promote("churn", weak_champion.promotion)
    assert decision.promoted, decision.reason
    assert decision.challenger_score > decision.champion_score + weak_champion.promotion.margin
    assert champion_version("churn") == "2"
    assert model_info("churn").tags["previous_champion"] == "1"

    train_models(
        _weak(weak_champion),
        data=training_data,
        tracking_uri=tracking_uri,
        models=("churn",),
        figures=False,
    )
    refused = promote("churn", weak_champion.promotion)
    assert not refused.promoted
    assert "not better by the margin" in refused.reason and "pr_auc" in refused.reason
    assert champion_version("churn") == "2" and challenger_version("churn") == "3"


def test_a_huge_margin_refuses_even_a_better_model(weak_champion: ExperimentConfig) -> None:
    strict = weak_champion.promotion.model_copy(update={"margin": 0.9})
    decision = promote("churn", strict)
    assert not decision.promoted and champion_version("churn") == "1"


def test_rescoring_on_events_compares_on_the_same_rows(
    weak_champion: ExperimentConfig, events_path, training_data: TrainingData
) -> None:
    decision = promote("churn", weak_champion.promotion, events=events_path)
    assert decision.promoted, decision.reason
    assert "both scored on the OOT report half" in decision.basis
    report_rows = len(training_data.for_model("churn").X_report)
    assert f"{report_rows:,} rows" in decision.basis


def test_different_out_of_time_data_is_refused_without_rescoring(
    tracking_uri: str, training_data: TrainingData, config: ExperimentConfig
) -> None:
    train_models(
        config, data=training_data, tracking_uri=tracking_uri, models=("churn",), figures=False
    )
    shorter = config.model_copy(
        update={"cutoffs": config.cutoffs.model_copy(update={"count": 5, "last": None})}
    )
    earlier = TrainingData(
        frame=training_data.frame[training_data.frame["as_of"] < training_data.schedule[-1]],
        schedule=training_data.schedule[:-1],
        windows=training_data.windows,
        fingerprint=training_data.fingerprint,
        source=training_data.source,
    )
    train_models(shorter, data=earlier, tracking_uri=tracking_uri, models=("churn",), figures=False)
    decision = promote("churn", config.promotion)
    assert not decision.promoted
    assert "different out-of-time data" in decision.reason and "oot_cutoff" in decision.reason


def test_rollback_is_one_call_and_unknown_versions_are_refused(
    weak_champion: ExperimentConfig,
) -> None:
    promote("churn", weak_champion.promotion)
    assert champion_version("churn") == "2"
    back = rollback("churn", 1)
    assert back.promoted and champion_version("churn") == "1"
    assert model_info("churn").tags["rolled_back_from"] == "2"
    missing = rollback("churn", 9)
    assert not missing.promoted and "no version 9" in missing.reason
    assert not rollback("churn", 1).promoted  # already champion


def test_nothing_registered_means_nothing_to_promote(tracking_uri: str) -> None:
    from training.tracking import configure

    configure(tracking_uri)
    decision = promote("value")
    assert not decision.promoted and decision.reason == "no challenger is registered"


def test_recall_promotion_uses_its_own_configurable_metric(
    tracking_uri: str, training_data: TrainingData, config: ExperimentConfig
) -> None:
    for _ in range(2):
        train_models(
            config, data=training_data, tracking_uri=tracking_uri, models=("recall",), figures=False
        )
    assert (champion_version("recall"), challenger_version("recall")) == ("1", "2")
    by_auc = config.promotion.model_copy(update={"recall_metric": "roc_auc"})
    decision = promote("recall", by_auc)
    assert not decision.promoted and decision.metric == "roc_auc"  # identical models: no gain
    assert "roc_auc" in decision.reason and "not better by the margin" in decision.reason
    back = rollback("recall", 2)
    assert back.promoted and champion_version("recall") == "2"
    assert model_info("recall").name == "retain-recall"
