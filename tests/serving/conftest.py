"""Serving fixtures: one simulated log, both models trained once into a temporary MLflow store.

Why session scope: training takes ~10 s and every scoring and HTTP test needs the same
champions; the store lives in a temporary folder (never the repository's mlflow.db), and the
tracking URI is passed explicitly (in-process) or through the environment (subprocesses).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

SIM_USERS = 3_000
SIM_DAYS = 400
SIM_SEED = 3


@dataclass(frozen=True)
class ServingStore:
    """Where the fixture log and the MLflow store are."""

    root: Path
    events: Path
    tracking_uri: str

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a subprocess that should use this store (and nothing stale)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
        env["MLFLOW_TRACKING_URI"] = self.tracking_uri
        env["BENTOML_HOME"] = str(self.root / "bentoml")
        env["BENTOML_DO_NOT_TRACK"] = "True"
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def serving_store(tmp_path_factory: pytest.TempPathFactory) -> ServingStore:
    """A 3,000-user simulated log and champions trained on it (first versions are champions)."""
    from features.simulation import SimulationConfig, write_simulation
    from training.config import ExperimentConfig
    from training.train import train_models

    root = tmp_path_factory.mktemp("serving_store")
    events = root / "events.parquet"
    write_simulation(SimulationConfig(users=SIM_USERS, days=SIM_DAYS, seed=SIM_SEED), events)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    train_models(ExperimentConfig(), events, tracking_uri=uri)
    return ServingStore(root=root, events=events, tracking_uri=uri)


@pytest.fixture(scope="session")
def champions(serving_store: ServingStore):
    from serving.champions import load_champions

    return load_champions(serving_store.tracking_uri)


@pytest.fixture(scope="session")
def loaded_events(serving_store: ServingStore):
    from features.loading import load_events

    return load_events(serving_store.events)


@pytest.fixture(scope="session")
def scored(loaded_events, champions):
    """Every user scored at the latest cutoff with the default playbook: what the service serves."""
    from serving.scoring import score_events

    return score_events(loaded_events, champions)
