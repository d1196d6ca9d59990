"""A log that cannot train the recall model still trains the others, and says why.

Why: on a purchase log shorter than the active window plus the churn horizon no user is lapsed
at a past cutoff with a known return, so the recall model has nothing to learn from. `retain
train` used to stop there after registering churn; now the recall model is reported as not
trained and churn and value still train (scoring then falls back; tests/serving).
"""

from __future__ import annotations

import dataclasses

import mlflow
import pytest

from training.config import ExperimentConfig
from training.datasets import TrainingData
from training.registry import champion_version
from training.train import train_models

pytestmark = pytest.mark.slow


def test_no_lapsed_users_means_no_recall_model_but_churn_still_trains(
    training_data: TrainingData, config: ExperimentConfig, tracking_uri: str
) -> None:
    frame = training_data.frame
    only_active = dataclasses.replace(training_data, frame=frame[frame["active_at_cutoff"] == 1])
    results = train_models(
        config,
        data=only_active,
        tracking_uri=tracking_uri,
        models=("recall", "churn"),
        figures=False,
    )
    by_kind = {result.kind: result for result in results}
    assert not by_kind["recall"].trained and by_kind["recall"].run_id == ""
    assert "recall model not trained" in (by_kind["recall"].warning or "")
    assert "falls back to the churn model" in (by_kind["recall"].warning or "")
    assert by_kind["churn"].trained and by_kind["churn"].version == "1"
    mlflow.set_registry_uri(tracking_uri)
    assert champion_version("churn") == "1" and champion_version("recall") is None


def test_a_required_model_without_data_still_fails_loudly(
    training_data: TrainingData, config: ExperimentConfig, tracking_uri: str
) -> None:
    frame = training_data.frame
    only_lapsed = dataclasses.replace(training_data, frame=frame[frame["active_at_cutoff"] == 0])
    with pytest.raises(ValueError, match="churn model"):
        train_models(config, data=only_lapsed, tracking_uri=tracking_uri, models=("churn",))
