"""`retain retrain` as a scheduler runs it: on a real MLflow store, the same data twice.

Each case states why the outcome is right: a challenger with 2 trees of 2 leaves cannot beat
a full model by the margin, so it is refused; the full model beats that weak champion, so it is
promoted; the same data and config again trains nothing (the champion's run records both, or
an earlier retrain run does when its challenger lost); a log whose last week lost 95 % of its
events fails the volume check before anything trains.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from monitoring.retraining import RetrainBusyError, exclusive_lock, retrain
from retain.cli import app
from tests.models.test_promotion import _weak
from training.config import ExperimentConfig
from training.registry import champion_version, versions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def churn_only(config: ExperimentConfig) -> ExperimentConfig:
    """The churn model alone at three cutoffs: every case below trains it once or twice."""
    cutoffs = config.cutoffs.model_copy(update={"count": 3})
    return config.model_copy(update={"models": ("churn",), "cutoffs": cutoffs})


def test_promotes_a_better_challenger_refuses_a_worse_one_and_repeats_nothing(
    events_path: Path, churn_only: ExperimentConfig, tracking_uri: str
) -> None:
    weak = _weak(churn_only)
    first = retrain(events_path, weak, tracking_uri=tracking_uri)
    assert first.outcome == "retrained" and first.promoted == ["churn"]  # the first model
    better = retrain(events_path, churn_only, tracking_uri=tracking_uri)
    assert better.outcome == "retrained" and better.promoted == ["churn"], better.decisions
    assert champion_version("churn") == "2"
    again = retrain(events_path, churn_only, tracking_uri=tracking_uri)
    assert again.outcome == "up_to_date" and versions("churn") == ["1", "2"]
    # Three trees, not two: another config (digest), so this data has not been trained on it.
    weaker = weak.model_copy(update={"churn": weak.churn.model_copy(update={"num_boost_round": 3})})
    assert weaker.digest not in (weak.digest, churn_only.digest)
    worse = retrain(events_path, weaker, tracking_uri=tracking_uri)
    assert worse.outcome == "retrained" and worse.promoted == []
    assert "not better by the margin" in str(worse.decisions[0]["reason"])
    assert champion_version("churn") == "2" and versions("churn") == ["1", "2", "3"]
    assert better.run_id and worse.run_id  # each run is recorded in MLflow
    # The champion keeps the other config, so only the earlier retrain run says "done": before,
    # every night on unchanged data trained yet another identical, losing version.
    for done in (weaker, weak):
        repeat = retrain(events_path, done, tracking_uri=tracking_uri)
        assert repeat.outcome == "up_to_date", repeat.reason
        assert "already trained on this data" in repeat.reason
    assert versions("churn") == ["1", "2", "3"]


def test_critical_data_health_refuses_before_training(
    events_path: Path, churn_only: ExperimentConfig, tracking_uri: str, tmp_path: Path
) -> None:
    events = pd.read_parquet(events_path)
    last_week = events["event_time"] >= events["event_time"].max() - pd.Timedelta(days=7)
    dropped = last_week & (pd.Series(range(len(events))) % 20 != 0).to_numpy()
    collapsed = tmp_path / "collapsed.parquet"
    events[~dropped].to_parquet(collapsed)
    report = retrain(collapsed, churn_only, tracking_uri=tracking_uri)
    assert report.outcome == "refused" and "volume" in report.reason
    assert champion_version("churn") is None  # nothing was trained

    result = CliRunner().invoke(
        app, ["retrain", "--events", str(collapsed), "--tracking-uri", tracking_uri]
    )
    assert result.exit_code == 2 and "refused" in result.output


def test_a_second_scheduler_is_turned_away_while_one_runs(
    events_path: Path, churn_only: ExperimentConfig, tracking_uri: str, tmp_path: Path
) -> None:
    lock = tmp_path / "retrain.lock"
    with exclusive_lock(lock):
        with pytest.raises(RetrainBusyError, match="holds"):
            retrain(events_path, churn_only, tracking_uri=tracking_uri, lock=lock)
        result = CliRunner().invoke(
            app,
            ["retrain", "--events", str(events_path), "--tracking-uri", tracking_uri,
             "--lock", str(lock)],
        )  # fmt: skip
        assert result.exit_code == 3 and "busy" in result.output
    assert champion_version("churn") is None
