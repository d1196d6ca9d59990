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


def test_lapsed_users_who_never_come_back_mean_no_recall_model_but_churn_trains(
    training_data: TrainingData, config: ExperimentConfig, tracking_uri: str
) -> None:
    """A subscription that cannot be restarted: users lapse, none returns. Before, the recall
    fit failed in its calibration after churn was registered and `retain train` stopped."""
    frame = training_data.frame
    lapsed = frame["active_at_cutoff"] == 0
    assert lapsed.sum() > 100 and frame.loc[lapsed, "returned"].sum() > 0  # a real change below
    never_back = dataclasses.replace(training_data, frame=frame.assign(returned=0.0))
    results = train_models(
        config, data=never_back, tracking_uri=tracking_uri, models=("recall",), figures=False
    )
    (recall,) = results
    assert not recall.trained and recall.run_id == ""
    assert "recall model's training set has returned=0" in (recall.warning or "")
    assert "a classifier needs both outcomes" in (recall.warning or "")


def test_a_churn_label_of_one_outcome_fails_naming_it(
    training_data: TrainingData, config: ExperimentConfig, tracking_uri: str
) -> None:
    everyone_stays = dataclasses.replace(
        training_data, frame=training_data.frame.assign(churned=0.0)
    )
    with pytest.raises(ValueError, match=r"churn model's training set has churned=0"):
        train_models(config, data=everyone_stays, tracking_uri=tracking_uri, models=("churn",))


def test_a_log_without_spending_stops_before_any_model_is_registered(
    training_data: TrainingData, config: ExperimentConfig, tracking_uri: str
) -> None:
    """Logins and views without amounts: nobody's future value is above 0. Before, churn was
    trained and registered, then the value fit died in LightGBM ("sum of labels is zero")."""
    frame = training_data.frame
    assert (frame["future_value"] > 0).sum() > 100  # a real change below
    no_spend = dataclasses.replace(training_data, frame=frame.assign(future_value=0.0))
    with pytest.raises(ValueError, match=r"value model's training set has future_value=0"):
        train_models(config, data=no_spend, tracking_uri=tracking_uri, models=("churn", "value"))
    mlflow.set_registry_uri(tracking_uri)
    assert champion_version("churn") is None  # the refusal came before churn was fitted
