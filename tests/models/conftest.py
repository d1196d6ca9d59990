"""Fixtures for model tests: one simulated log and one stacked training set per session.

Why session scope: simulating 4,000 users and building features at six cutoffs takes a few
seconds; every model test reads the same frames (they are never mutated) and each MLflow test
gets its own empty SQLite store (a copy of the run's migrated one: tests/conftest.py), so tests
stay independent while the data is built once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.simulation import SimulationConfig, write_simulation
from tests.stores import new_mlflow_store
from training.config import ExperimentConfig, parse_config
from training.datasets import TrainingData, build_training_data

SIMULATED_USERS = 4_000


@pytest.fixture(scope="session")
def events_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated event log: 4,000 users over 400 days (fixed seed)."""
    path = tmp_path_factory.mktemp("events") / "events.parquet"
    write_simulation(SimulationConfig(users=SIMULATED_USERS, days=400, seed=11), path)
    return path


@pytest.fixture(scope="session")
def config() -> ExperimentConfig:
    """Defaults with a smaller boosting budget, so each fit takes about a second."""
    return parse_config(
        {
            "name": "test",
            "cutoffs": {"step_days": 30, "count": 6, "min_history_days": 60},
            "churn": {"num_boost_round": 300, "early_stopping_rounds": 30},
            "value": {"num_boost_round": 300, "early_stopping_rounds": 30},
        },
        "test config",
    )


@pytest.fixture(scope="session")
def training_data(events_path: Path, config: ExperimentConfig) -> TrainingData:
    """Features and labels at every cutoff of `config`'s schedule, stacked."""
    return build_training_data(events_path, config)


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_mlflow_db: Path) -> str:
    """An empty MLflow SQLite store for this test only (also set as MLFLOW_TRACKING_URI)."""
    uri = new_mlflow_store(tmp_path, empty_mlflow_db)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
