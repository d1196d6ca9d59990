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
from training.datasets import TrainingData
from training.train import train_models

runner = CliRunner()


@pytest.fixture
def config_file(tmp_path: Path, config: ExperimentConfig) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(config.to_yaml())
    return path


def test_train_prints_run_ids_and_a_metrics_table(
    events_path: Path, config_file: Path, tracking_uri: str
) -> None:
    """Also `--no-figures`: runs without plots/ whose tag says so (the library's default, with
    figures, is tests/models/test_tracking.py's subject)."""
    result = runner.invoke(
        app, ["train", "--events", str(events_path), "--config", str(config_file), "--no-figures"]
    )
    assert result.exit_code == 0, result.output
    for kind in ("churn", "recall", "value"):
        assert f"{kind} model, out-of-time report half" in result.output
        assert f"{kind}: run id" in result.output
    assert "recency_rule" in result.output and "last_period_spend" in result.output
    assert "return_rate" in result.output  # the recall model's table
    # Counts are whole numbers: the value model's report half has its row count in the table.
    rows = re.findall(r"\n│ rows\s+│\s+([\d,.]+)", result.output)
    assert rows and all(re.fullmatch(r"\d{1,3}(,\d{3})*", n) for n in rows), rows
    run_ids = re.findall(r"run id ([0-9a-f]{32})", result.output)
    assert len(run_ids) == 3
    client = mlflow.MlflowClient()
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert "--no-figures" in run.data.tags["figures"]
        logged = {artifact.path for artifact in client.list_artifacts(run_id)}
        assert "tables" in logged and "plots" not in logged, logged
    # The report's model section says why the champions have no charts instead of showing none.
    from serving.reporting.model_section import model_quality_html, model_sections

    page = model_quality_html(model_sections(tracking_uri))
    assert page.count("No charts: this champion was trained without figures") == 3, page
    assert "<img" not in page


@pytest.mark.parametrize("kind", ["churn", "recall"])
def test_promote_refusal_exits_non_zero_with_the_reason(
    training_data: TrainingData,
    config: ExperimentConfig,
    config_file: Path,
    tracking_uri: str,
    kind: str,
) -> None:
    # The same model twice: v1 champion, v2 challenger. Trained through the library on the
    # session's training data (`retain train` itself is the first test's subject).
    for _ in range(2):
        train_models(
            config, data=training_data, tracking_uri=tracking_uri, models=(kind,), figures=False
        )
    refused = runner.invoke(app, ["promote", "--model", kind, "--config", str(config_file)])
    assert refused.exit_code == 1
    assert "refused" in refused.output and "margin" in refused.output
    name = f"retain-{kind}"

    def champion() -> str:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, "champion").version)

    # v2 lost its promotion: it never was champion, so it is not a rollback target ...
    never = runner.invoke(app, ["rollback", "--model", kind, "--version", "2"])
    assert never.exit_code == 2 and "never champion" in never.output and "--force" in never.output
    assert champion() == "1"
    # ... unless forced.
    forced = runner.invoke(app, ["rollback", "--model", kind, "--version", "2", "--force"])
    assert forced.exit_code == 0 and f"{kind}: rolled back" in forced.output
    assert champion() == "2"
    # v1 was champion: rolling back to it needs no force.
    back = runner.invoke(app, ["rollback", "--model", kind, "--version", "1"])
    assert back.exit_code == 0 and f"{kind}: rolled back" in back.output
    assert "from v2 to v1" in back.output and champion() == "1"
    again = runner.invoke(app, ["rollback", "--model", kind, "--version", "1"])
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_promote_with_nothing_to_do_exits_0_and_says_so(
    events_path: Path, config_file: Path, tracking_uri: str
) -> None:
    empty = runner.invoke(app, ["promote", "--model", "churn", "--config", str(config_file)])
    assert empty.exit_code == 0, empty.output
    assert "churn: nothing to do — no challenger is registered" in empty.output
    train = ["train", "--events", str(events_path), "--config", str(config_file)]
    assert runner.invoke(app, [*train, "--model", "churn"]).exit_code == 0  # v1: both aliases
    same = runner.invoke(app, ["promote", "--model", "churn", "--config", str(config_file)])
    assert same.exit_code == 0, same.output
    assert "nothing to do — challenger v1 is already the champion" in same.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--events", "/nonexistent/events.parquet"], "/nonexistent/events.parquet"),
        (["train", "--model", "loyalty"], "'loyalty' is not one of 'churn', 'recall', 'value'"),
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
    args = ["train", "--events", str(events_path), "--config", str(config_file), "--no-figures"]
    args.append("--model")
    flags = ["churn", "--no-register", "--churn-horizon-days", "45", "--active-window-days", "60"]
    result = runner.invoke(app, [*args, *flags])
    assert result.exit_code == 0, result.output
    (run_id,) = re.findall(r"run id ([0-9a-f]{32})", result.output)
    params = mlflow.MlflowClient().get_run(run_id).data.params
    assert params["windows.churn_horizon_days"] == "45"
    assert params["windows.active_window_days"] == "60"
    assert params["windows.value_horizon_days"] == "90"  # from the config file
    assert "not registered" in result.output


def test_an_export_with_its_own_column_names_trains_with_columns(
    events_path: Path, config_file: Path, tracking_uri: str, tmp_path: Path
) -> None:
    """`--columns` on `retain train` as on `validate` and `score`: the export is read as it is,
    and the mapping is logged with the run, so promotion re-scores the export the same way."""
    import pandas as pd

    export = tmp_path / "export.parquet"
    pd.read_parquet(events_path).rename(columns={"event_time": "ts"}).to_parquet(export)
    args = ["train", "--events", str(export), "--config", str(config_file), "--no-figures"]
    args += ["--model", "churn", "--no-register"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert "missing required column 'event_time'" in " ".join(refused.output.split())
    result = runner.invoke(app, [*args, "--columns", "event_time=ts"])
    assert result.exit_code == 0, result.output
    (run_id,) = re.findall(r"run id ([0-9a-f]{32})", result.output)
    resolved = mlflow.artifacts.load_text(f"runs:/{run_id}/config/resolved_config.yaml")
    logged = yaml.safe_load(resolved)
    assert logged["data"]["columns"] == {"event_time": "ts"}


def test_a_config_mapping_to_an_unknown_contract_column_is_refused(
    events_path: Path, tmp_path: Path, tracking_uri: str
) -> None:
    path = tmp_path / "mapped.yaml"
    path.write_text(yaml.safe_dump({"data": {"columns": {"userid": "customer"}}}))
    result = runner.invoke(app, ["train", "--events", str(events_path), "--config", str(path)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "'userid' is not an event contract column" in said and "Traceback" not in said
