"""Optuna tuning (the promotion metric on the OOT fit half, nested runs, history, importances,
resumable, bound to its metric) and the rolling-origin backtest (baselines per origin, steps).

Speed: LightGBM runs on one thread here. On a loaded two-core machine OpenMP's default (every
core) made one 300-round fit take 125 s instead of 8 s; with 60 rounds a trial takes about 2 s.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from typer.testing import CliRunner

from retain.cli import app
from tests.stores import new_mlflow_store
from training import BacktestResult, backtest, tune
from training.config import ExperimentConfig, parse_config
from training.datasets import TrainingData
from training.estimators import ChurnClassifier, ValueRegressor
from training.evaluation import HEADLINE
from training.metrics import HIGHER_IS_BETTER

REPO = Path(__file__).resolve().parents[2]
TUNED_PARAMS = (
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "feature_fraction",
    "bagging_fraction",
    "lambda_l2",
)
runner = CliRunner()


@pytest.fixture(scope="module")
def fast(config: ExperimentConfig) -> ExperimentConfig:
    """The session config with 60 boosting rounds and one LightGBM thread per model."""
    one_thread = {"params": {"num_threads": 1}}
    budget = {"num_boost_round": 60, "early_stopping_rounds": 10, **one_thread}
    value = budget | {"outcome_params": one_thread["params"]}
    raw = config.model_dump(mode="json", exclude_defaults=True)
    return parse_config(raw | {"churn": budget, "recall": budget, "value": value}, "fast config")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, empty_mlflow_db: Path) -> Iterator[str]:
    """One MLflow store for the module: every test reads back only the runs it made, by id."""
    uri = new_mlflow_store(tmp_path_factory.mktemp("mlflow"), empty_mlflow_db)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        yield uri


@pytest.fixture(scope="module")
def fast_file(tmp_path_factory: pytest.TempPathFactory, fast: ExperimentConfig) -> Path:
    path = tmp_path_factory.mktemp("config") / "fast.yaml"
    path.write_text(fast.to_yaml())
    return path


def poisoned_report_half(data: TrainingData, kind: str, label: str) -> TrainingData:
    """`data` with the labels of the OOT report half inverted: a tuner that read those rows
    (to stop, calibrate or score) would find other parameters and other scores."""
    keys = data.for_model(kind).report_keys  # type: ignore[arg-type]
    frame = data.frame.copy()
    hit = frame.set_index(["user_id", "as_of"]).index.isin(pd.MultiIndex.from_frame(keys))
    assert hit.sum() == len(keys) > 100
    frame.loc[hit, label] = 1.0 - frame.loc[hit, label]
    return replace(data, frame=frame)


def table_rows(output: str, title: str) -> list[list[str]]:
    """The header and body cells of the Rich table printed under `title`."""
    rows = []
    for line in output.split(title, 1)[1].splitlines()[1:]:
        line = line.strip()
        if line.startswith("└"):
            break
        if line[:1] in ("│", "┃"):
            rows.append([cell.strip() for cell in re.split("[│┃]", line)[1:-1]])
    return rows


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    entries = mlflow.MlflowClient().get_metric_history(run_id, key)
    return sorted((m.step, m.value) for m in entries)


def test_tuning_scores_the_promotion_metric_on_the_fit_half_and_logs_its_history(
    tmp_path: Path,
    store: str,
    training_data: TrainingData,
    fast: ExperimentConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # where a default `experiments/` would appear
    assert fast.promotion.metric_for("churn") == "pr_auc"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    poisoned = poisoned_report_half(training_data, "churn", "churned")
    first = tune(fast, data=poisoned, trials=2, kind="churn", storage=storage)
    again = tune(fast, data=poisoned, trials=1, kind="churn", storage=storage)

    # The score is PR-AUC (what promotion judges), recomputed here without the tuner: the best
    # parameters refitted on the clean data, scored by scikit-learn on the fit half.
    split = training_data.for_model("churn")
    params = {**fast.churn.params.lightgbm(), **again.best_params}
    c = fast.churn
    model = ChurnClassifier(params, c.num_boost_round, c.early_stopping_rounds, c.calibration)
    model.fit(split.X_train, split.y_train, split.X_fit, split.y_fit)
    on_fit = average_precision_score(split.y_fit, model.predict_proba(split.X_fit)[:, 1])
    assert again.metric == "pr_auc"
    assert again.best_value == pytest.approx(on_fit, abs=1e-12)
    client = mlflow.MlflowClient()
    parent = client.get_run(again.parent_run_id)
    assert parent.data.metrics["best_oot_fit_pr_auc"] == pytest.approx(on_fit, abs=1e-12)
    assert parent.data.params["oot_fit_rows"] == str(len(split.X_fit))
    assert parent.data.tags["tuned_metric"] == "pr_auc" and parent.data.tags["run_type"] == "tuning"

    # Nested trials; the study resumed (2 + 1 trials) and the parent's history holds all three,
    # each value the one its own trial run logged, with the running best beside it.
    assert len(first.trial_run_ids) == 2 and len(again.trial_run_ids) == 1
    scores = []
    for result in (first, again):
        for run_id in result.trial_run_ids:
            trial = client.get_run(run_id)
            assert trial.data.tags["mlflow.parentRunId"] == result.parent_run_id
            assert set(TUNED_PARAMS) <= set(trial.data.params)
            scores.append(trial.data.metrics["oot_fit_pr_auc"])
    assert {"oot_fit_roc_auc", "oot_fit_ece"} <= set(trial.data.metrics)
    assert history(again.parent_run_id, "oot_fit_pr_auc") == list(enumerate(scores))
    running = np.maximum.accumulate(scores)
    assert history(again.parent_run_id, "best_oot_fit_pr_auc") == list(enumerate(running))
    assert history(first.parent_run_id, "oot_fit_pr_auc") == list(enumerate(scores[:2]))
    assert len(optuna.load_study(study_name=again.study_name, storage=storage).trials) == 3

    # Importances: refused with a note at two trials, logged (shares of one) at three.
    assert (
        "at least 3 complete trials"
        in client.get_run(first.parent_run_id).data.tags["param_importance_note"]
    )
    assert not any(
        k.startswith("param_importance.") for k in client.get_run(first.parent_run_id).data.metrics
    )
    shares = {
        k.removeprefix("param_importance."): v
        for k, v in parent.data.metrics.items()
        if k.startswith("param_importance.")
    }
    assert set(shares) == set(TUNED_PARAMS) and sum(shares.values()) == pytest.approx(1.0)
    assert shares == pytest.approx(again.importances)
    logged = json.loads(
        mlflow.artifacts.load_text(f"runs:/{again.parent_run_id}/tuning/param_importances.json")
    )
    assert logged == pytest.approx(shares)
    plots = {a.path for a in client.list_artifacts(again.parent_run_id, "plots")}
    assert plots == {"plots/optimization_history.png", "plots/param_importances.png"}

    # The tuned config is the run's artifact; no file anywhere unless asked for.
    assert again.config_path is None
    assert (
        not (tmp_path / "experiments").exists()
        and not (REPO / "experiments" / "test-tuned.yaml").exists()
    )
    text = mlflow.artifacts.load_text(f"runs:/{again.parent_run_id}/config/tuned_config.yaml")
    tuned = parse_config(yaml.safe_load(text), "tuned artifact")
    assert tuned.name == "test-tuned"
    assert tuned.churn.params.learning_rate == pytest.approx(again.best_params["learning_rate"])
    assert tuned.churn.params.num_leaves == again.best_params["num_leaves"]

    # The study is bound to its metric: resuming it for another one is refused, not mixed.
    other = fast.model_copy(
        update={"promotion": fast.promotion.model_copy(update={"churn_metric": "roc_auc"})}
    )
    with pytest.raises(ValueError, match="metric 'pr_auc' ≠ 'roc_auc'"):
        tune(other, data=poisoned, trials=1, kind="churn", storage=storage)


def _normalised_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini by rank weights: Σ y·(n − rank + 1) / (n·Σy) − (n + 1)/(2n), rank 1 = highest
    prediction, over the same for the perfect order (no cumulative sums, unlike the library)."""

    def gini(order_by: np.ndarray) -> float:
        n = len(actual)
        rank = np.empty(n)
        rank[np.lexsort((np.arange(n), -order_by))] = np.arange(1, n + 1)
        return float((actual * (n - rank + 1)).sum() / (n * actual.sum()) - (n + 1) / (2 * n))

    return gini(predicted) / gini(actual)


def test_value_tuning_maximises_gini_on_the_fit_half_and_writes_where_asked(
    tmp_path: Path, store: str, training_data: TrainingData, fast: ExperimentConfig
) -> None:
    out = tmp_path / "nested" / "tuned.yaml"
    result = tune(
        fast,
        data=training_data,
        trials=1,
        kind="value",
        storage=f"sqlite:///{tmp_path / 'o.db'}",
        out_path=out,
    )
    split = training_data.for_model("value")
    v = fast.value
    params = {
        **v.params.lightgbm(),
        **{k: x for k, x in result.best_params.items() if k != "tweedie_variance_power"},
    }
    model = ValueRegressor(
        params,
        v.num_boost_round,
        v.early_stopping_rounds,
        tweedie_variance_power=result.best_params["tweedie_variance_power"],
        outcome_params=v.outcome_params.lightgbm(),
    ).fit(split.X_train, split.y_train, split.X_fit, split.y_fit, **split.fit_outcomes())
    on_fit = _normalised_gini(split.y_fit.to_numpy(dtype=float), model.predict(split.X_fit))
    assert result.metric == "gini" and result.best_value == pytest.approx(on_fit, abs=1e-9)
    assert result.config_path == out
    artifact = mlflow.artifacts.load_text(f"runs:/{result.parent_run_id}/config/tuned_config.yaml")
    assert out.read_text() == artifact
    assert "at least 3 complete trials" in result.notes[0]


@pytest.fixture(scope="module")
def churn_backtest(
    store: str, training_data: TrainingData, fast: ExperimentConfig
) -> BacktestResult:
    (result,) = backtest(fast, data=training_data, origins=3, models=("churn",))
    return result


def test_backtest_logs_model_and_baselines_at_every_origin_as_steps(
    churn_backtest: BacktestResult, training_data: TrainingData
) -> None:
    result = churn_backtest
    table = result.per_origin
    origins = list(table["origin"])
    assert origins == sorted(origins) and len(origins) >= 2
    assert origins[-1] == training_data.schedule[-1]
    assert {"recency_rule", "rfm_logreg"} <= set(result.baselines)
    assert (table["oot_roc_auc"] > 0.6).all()
    row = result.summary.loc["oot_roc_auc"]
    assert row["min"] <= row["mean"] <= row["max"]
    assert row["std"] == pytest.approx(table["oot_roc_auc"].std())

    # Every origin's model and baseline metrics are steps (step = origin index) ...
    run = mlflow.MlflowClient().get_run(result.run_id)
    assert run.data.tags["run_type"] == "backtest" and "oot_roc_auc_mean" in run.data.metrics
    for key in ("oot_roc_auc", "rfm_logreg_oot_roc_auc", "recency_rule_oot_pr_auc"):
        assert history(result.run_id, key) == list(enumerate(table[key])), key
    for step, origin in enumerate(origins):
        assert run.data.params[f"origin.{step}"] == f"{origin:%Y-%m-%d}"
    # ... and the last origin is the ordinary training split: its recency-rule ROC-AUC, from an
    # isotonic fit of the churn rate on recency made here, is the logged last step.
    split = training_data.for_model("churn")
    train_days, report_days = (
        x["days_since_last_event"].fillna(1e4) for x in (split.X_train, split.X_report)
    )
    fitted = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(
        train_days, split.y_train
    )
    expected = roc_auc_score(split.y_report, fitted.predict(report_days))
    assert table["recency_rule_oot_roc_auc"].iloc[-1] == pytest.approx(expected, abs=1e-9)

    # Margin over the best baseline, signed so positive means the model is better.
    versus = result.versus_baselines(["roc_auc", "ece"])
    last = versus[(versus["origin"] == origins[-1]) & (versus["metric"] == "ece")].iloc[0]
    assert last["margin"] == pytest.approx(
        min(last["recency_rule"], last["rfm_logreg"]) - last["model"]
    )


def test_the_backtest_command_prints_baselines_beside_the_model(
    events_path: Path, fast_file: Path, store: str
) -> None:
    args = ["backtest", "--events", str(events_path), "--config", str(fast_file)]
    result = runner.invoke(app, [*args, "--model", "churn", "--origins", "2"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "churn model vs baselines at each origin" in result.output
    header, *rows = table_rows(result.output, "churn model vs baselines at each origin")
    assert header[:3] == ["origin", "metric", "model"] and header[-1] == "margin"
    assert {"recency_rule", "rfm_logreg"} <= set(header)
    shown = list(dict.fromkeys([*HEADLINE["churn"], "pr_auc"]))  # headline, then promotion's
    assert [row[1] for row in rows] == shown * 2  # two origins
    for row in rows:  # the margin is the model's over the best baseline, positive = better
        model, *baselines, margin = (float(cell) for cell in row[2:])
        sign = 1 if HIGHER_IS_BETTER[row[1]] else -1
        assert margin == pytest.approx(sign * model - max(sign * b for b in baselines), abs=2e-4)
    assert "metric stability over 2 origins" in result.output


def test_the_tune_command_says_where_the_tuned_config_is(
    events_path: Path,
    fast_file: Path,
    store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["tune", "--events", str(events_path), "--config", str(fast_file), "--trials", "1"]
    result = runner.invoke(
        app, [*args, "--storage", f"sqlite:///{tmp_path / 'o.db'}"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "optimising churn pr_auc" in result.output and "best_oot_fit_pr_auc" in result.output
    (run_id,) = re.findall(r"parent run id ([0-9a-f]{32})", result.output)
    assert f"runs:/{run_id}/config/tuned_config.yaml" in result.output
    assert f"mlflow artifacts download -r {run_id} -a config/tuned_config.yaml" in result.output
    assert "at least 3 complete trials" in " ".join(result.output.replace("│", " ").split())
    fetched = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="config/tuned_config.yaml", dst_path=str(tmp_path / "got")
        )
    )
    assert parse_config(yaml.safe_load(fetched.read_text())).name == "test-tuned"
    assert not (tmp_path / "experiments").exists()


def test_a_recall_model_the_log_cannot_train_is_left_out_of_the_backtest_saying_why(
    training_data: TrainingData, fast: ExperimentConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """As `retain train` does: where no lapsed user ever comes back, churn is still backtested
    and the recall model's absence is a warning with the reason; asked for by name, it fails."""
    never_back = replace(training_data, frame=training_data.frame.assign(returned=0.0))
    config = fast.model_copy(update={"models": ("churn", "recall")})
    with caplog.at_level(logging.WARNING, logger="training.backtesting"):
        results = backtest(config, data=never_back, origins=2, log_to_mlflow=False)
    assert [result.kind for result in results] == ["churn"]
    assert "recall model not backtested" in caplog.text and "returned=0" in caplog.text
    with pytest.raises(ValueError, match=r"recall model \(.*returned=0"):
        backtest(config, data=never_back, origins=2, models=("recall",), log_to_mlflow=False)
