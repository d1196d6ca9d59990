"""Two `retain train` processes at once on one fresh SQLite store: both recorded, registry sane.

Before the store lock, the second process died in MLflow's schema migration ("duplicate
column name") and both first registrations could claim `@champion`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from simulator.simulation import SimulationConfig, write_simulation
from training.config import ExperimentConfig


@pytest.mark.slow
def test_two_trainings_at_once_are_both_recorded(tmp_path: Path, config: ExperimentConfig) -> None:
    config_file = tmp_path / "churn.yaml"
    # Small on purpose: what is tested is two processes meeting in one store (schema, runs,
    # registry), not the models; 1,500 users, four cutoffs and 60 rounds keep each process to
    # a few seconds.
    events_path = tmp_path / "events.parquet"
    write_simulation(SimulationConfig(users=1_500, days=400, seed=11), events_path)
    small = {
        "models": ("churn",),
        "cutoffs": config.cutoffs.model_copy(update={"count": 4}),
        "churn": config.churn.model_copy(update={"num_boost_round": 60}),
    }
    churn_only = config.model_copy(update=small)
    config_file.write_text(churn_only.to_yaml())
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    # Without figures: what two processes contend for is the store and the registry, and a
    # run's artefacts (model, tables) are still written.
    command = [sys.executable, "-m", "retain", "train", "--events", str(events_path),
               "--config", str(config_file), "--no-figures"]  # fmt: skip
    runs = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]  # fmt: skip
    outputs = [process.communicate(timeout=300)[0] for process in runs]
    assert [process.returncode for process in runs] == [0, 0], outputs
    assert all("Traceback" not in output for output in outputs)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name='retain-churn'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    champion = client.get_model_version_by_alias("retain-churn", "champion")
    claimed = [output for output in outputs if "(challenger, champion)" in output]
    assert len(claimed) == 1 and f"version {champion.version} (challenger, champion)" in claimed[0]
    assert str(client.get_model_version_by_alias("retain-churn", "challenger").version) == "2"
    experiment = client.get_experiment_by_name(churn_only.experiment)
    finished = client.search_runs([experiment.experiment_id])
    assert [run.info.status for run in finished] == ["FINISHED", "FINISHED"]
