"""`retain train | tune | promote | rollback | backtest` on the command line."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import pytest
import yaml
from typer.testing import CliRunner

from retain.cli import app
from training.config import ExperimentConfig

runner = CliRunner()


@pytest.fixture
def config_file(tmp_path: Path, config: ExperimentConfig) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(config.to_yaml())
    return path


def test_train_prints_run_ids_and_a_metrics_table(
    events_path: Path, config_file: Path, tracking_uri: str
) -> None:
    result = runner.invoke(
        app, ["train", "--events", str(events_path), "--config", str(config_file)]
    )
    assert result.exit_code == 0, result.output
    for kind in ("churn", "recall", "value"):
        assert f"{kind} model, out-of-time report half" in result.output
        assert f"{kind}: run id" in result.output
    assert "recency_rule" in result.output and "last_period_spend" in result.output
    assert "return_rate" in result.output  # the recall model's table
    run_ids = re.findall(r"run id ([0-9a-f]{32})", result.output)
    assert len(run_ids) == 3
    client = mlflow.MlflowClient()
    assert all(client.get_run(run_id).info.status == "FINISHED" for run_id in run_ids)


@pytest.mark.parametrize("kind", ["churn", "recall"])
def test_promote_refusal_exits_non_zero_with_the_reason(
    events_path: Path, config_file: Path, tracking_uri: str, kind: str
) -> None:
    train = ["train", "--events", str(events_path), "--config", str(config_file), "--model", kind]
    assert runner.invoke(app, train).exit_code == 0
    assert runner.invoke(app, train).exit_code == 0  # the same model again: v2 challenger
    refused = runner.invoke(app, ["promote", "--model", kind, "--config", str(config_file)])
    assert refused.exit_code == 1
    assert "refused" in refused.output and "margin" in refused.output
    back = runner.invoke(app, ["rollback", "--model", kind, "--version", "2"])
    assert back.exit_code == 0 and "rollback" in back.output
    name = f"retain-{kind}"
    assert str(mlflow.MlflowClient().get_model_version_by_alias(name, "champion").version) == "2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--events", "/nonexistent/events.parquet"], "/nonexistent/events.parquet"),
        (["train", "--model", "loyalty"], "--model must be one of churn, recall, value"),
        (["promote", "--model", "churn", "--config", "/nonexistent.yaml"], "no such config file"),
    ],
)
def test_bad_input_is_one_line_not_a_traceback(
    args: list[str], message: str, tracking_uri: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_invalid_config_names_the_key(tmp_path: Path, events_path: Path, tracking_uri: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"churn": {"calibration": "magic"}}))
    result = runner.invoke(app, ["train", "--events", str(events_path), "--config", str(path)])
    assert result.exit_code != 0
    assert "churn.calibration" in result.output and "Traceback" not in result.output


def test_window_flags_reach_the_logged_config(
    events_path: Path, config_file: Path, tracking_uri: str
) -> None:
    args = ["train", "--events", str(events_path), "--config", str(config_file), "--model"]
    flags = ["churn", "--no-register", "--churn-horizon-days", "45", "--active-window-days", "60"]
    result = runner.invoke(app, [*args, *flags])
    assert result.exit_code == 0, result.output
    (run_id,) = re.findall(r"run id ([0-9a-f]{32})", result.output)
    params = mlflow.MlflowClient().get_run(run_id).data.params
    assert params["windows.churn_horizon_days"] == "45"
    assert params["windows.active_window_days"] == "60"
    assert params["windows.value_horizon_days"] == "90"  # from the config file
    assert "not registered" in result.output
