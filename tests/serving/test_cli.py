"""`retain score`, `churn-list`, `action-plan` and `serve`'s settings through the Typer app."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from retain.cli import app
from retain.commands.serve import bentoml_overrides
from serving.decisions.churn_list import LIST_COLUMNS, PLAN_COLUMNS, ChurnListQuery, churn_list
from serving.decisions.policy import DECISIONS_ATTR
from serving.scoring.pipeline import SCORE_COLUMNS

pytestmark = pytest.mark.slow
runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def score_file(serving_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "scores.parquet"
    result = _invoke(
        "score",
        *("--events", str(serving_store.events), "--out", str(out)),
        *("--tracking-uri", serving_store.tracking_uri, "--with-features"),
    )
    assert result.exit_code == 0, result.output
    assert "scoring summary" in result.output
    return out


def test_score_writes_the_same_numbers_as_the_pipeline(score_file, scored):
    written = pd.read_parquet(score_file)
    assert set(SCORE_COLUMNS) <= set(written.columns)
    pd.testing.assert_frame_equal(written[list(SCORE_COLUMNS)], scored.scores)
    assert "events_30d" in written.columns  # --with-features
    summary = written.attrs[DECISIONS_ATTR]  # the run's gain and upper bound travel with it
    assert summary["achieved_gain"] == pytest.approx(scored.scores["expected_gain"].sum())
    assert summary["upper_bound"] >= summary["achieved_gain"] - 1e-6


def test_score_records_its_decisions_in_mlflow(score_file, scored, serving_store):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=serving_store.tracking_uri)
    experiment = client.get_experiment_by_name("retain-scoring")
    runs = client.search_runs([experiment.experiment_id], f"params.output = '{score_file}'")
    assert len(runs) == 1
    metrics = runs[0].data.metrics
    assert metrics["achieved_gain"] == pytest.approx(scored.scores["expected_gain"].sum())
    assert metrics["cost"] == pytest.approx(scored.scores["action_cost"].sum())
    assert metrics["upper_bound"] >= metrics["achieved_gain"] - 1e-6
    assert metrics["contacted"] == (scored.scores["action"] != "no_action").sum()


def test_churn_list_from_a_score_file_as_csv(score_file, scored, tmp_path):
    out = tmp_path / "list.csv"
    result = _invoke(
        "churn-list",
        *("--scores", str(score_file), "--stage", "at_risk,active", "--min-risk", "0.3"),
        *("--top", "25", "--format", "csv", "--out", str(out)),
    )
    assert result.exit_code == 0, result.output
    listed = pd.read_csv(out, dtype={"user_id": "str"})
    assert list(listed.columns) == list(LIST_COLUMNS)
    expected = churn_list(
        scored.scores, ChurnListQuery(stages=("at_risk", "active"), min_risk=0.3, top=25)
    )
    assert listed["user_id"].tolist() == expected["user_id"].tolist()
    assert len(listed) == 25
    assert listed["churn_probability"].min() >= 0.3
    assert listed["value_at_risk"].is_monotonic_decreasing
    np.testing.assert_allclose(
        listed["value_at_risk"], listed["churn_probability"] * listed["value_at_stake"]
    )


def test_budget_with_scores_decides_again(score_file, tmp_path):
    """The score file was decided without a budget; `--budget 0` must leave only free actions
    (today's catalogue has none at zero cost), so the plan becomes empty."""
    out = tmp_path / "plan.csv"
    plain = _invoke("action-plan", "--scores", str(score_file), "--all", "--out", str(out))
    assert plain.exit_code == 0, plain.output
    before = pd.read_csv(out, dtype={"user_id": "str"})
    assert list(before.columns) == list(PLAN_COLUMNS) and len(before) > 50
    assert before["expected_gain"].is_monotonic_decreasing
    result = _invoke(
        "action-plan", "--scores", str(score_file), "--budget", "0", "--all", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "decided again" in result.output
    assert len(pd.read_csv(out)) == 0
    budget = 50.0
    result = _invoke(
        "action-plan", *("--scores", str(score_file), "--budget", str(budget)),
        *("--all", "--out", str(out)),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    limited = pd.read_csv(out, dtype={"user_id": "str"})
    assert 0 < len(limited) < len(before)
    assert limited["action_cost"].sum() <= budget + 1e-9


@pytest.mark.parametrize(
    "flag",
    [
        ["--as-of", "2024-01-01"],
        ["--reasons", "path"],
        ["--segments", "x.yaml"],
        ["--churn-horizon-days", "45"],
    ],
)
def test_flags_that_cannot_apply_to_a_score_file_are_refused(score_file, flag):
    result = runner.invoke(app, ["churn-list", "--scores", str(score_file), *flag])
    assert result.exit_code == 2
    assert f"{flag[0]} cannot apply with --scores" in result.output


def test_window_flags_that_contradict_the_champions_are_refused(serving_store, tmp_path):
    result = runner.invoke(
        app,
        [
            *("score", "--events", str(serving_store.events), "--out", str(tmp_path / "s.csv")),
            *("--tracking-uri", serving_store.tracking_uri, "--churn-horizon-days", "45"),
        ],
    )
    assert result.exit_code == 2
    assert "--churn-horizon-days 45 contradicts the champion models" in result.output
    assert not (tmp_path / "s.csv").exists()


def test_churn_list_prints_when_no_out_is_given(score_file, scored):
    result = runner.invoke(
        app,
        ["churn-list", "--scores", str(score_file), "--top", "3", "--sort-by", "risk"],
        terminal_width=80,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "churn list (3 users)" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "…" not in result.output  # nothing cut to fit 80 columns
    riskiest = churn_list(scored.scores, ChurnListQuery(top=3, sort_by="risk"))
    for row in riskiest.itertuples():
        assert row.user_id in result.output and row.action in result.output


@pytest.mark.parametrize("command", ["score", "churn-list"])
def test_an_as_of_far_past_the_events_is_warned_about(serving_store, tmp_path, command):
    import pandas as pd

    last = pd.read_parquet(serving_store.events, columns=["event_time"])["event_time"].max()
    as_of = (last + pd.Timedelta(days=91)).normalize() + pd.Timedelta(days=1)  # > 90-day window
    out = tmp_path / ("s.parquet" if command == "score" else "list.csv")
    result = runner.invoke(
        app,
        [
            *(command, "--events", str(serving_store.events), "--out", str(out)),
            *("--as-of", f"{as_of:%Y-%m-%d}", "--tracking-uri", serving_store.tracking_uri),
        ],
    )
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    days = (as_of - last.normalize()).days - (1 if last != last.normalize() else 0)
    assert f"--as-of {as_of:%Y-%m-%d} is {days} days after the last event ({last:%Y-%m-%d})" in line
    assert out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stage", "at-risk"], "unknown stage"),
        (["--action", "free_pony"], "unknown action"),
        (["--sort-by", "luck"], "Invalid value for '--sort-by'"),
        (["--format", "parquet", "--out", "x.csv"], "does not end in .parquet"),
    ],
)
def test_churn_list_bad_input_is_one_line_exit_2(score_file, args, message):
    result = runner.invoke(app, ["churn-list", "--scores", str(score_file), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_score_bad_input_is_one_line_exit_2(serving_store, tmp_path):
    missing = runner.invoke(
        app, ["score", "--events", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "s.csv")]
    )
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    no_store = runner.invoke(
        app,
        [
            *("score", "--events", str(serving_store.events), "--out", str(tmp_path / "s.csv")),
            *("--tracking-uri", f"sqlite:///{tmp_path / 'empty.db'}"),
        ],
    )
    assert no_store.exit_code == 2 and "no MLflow store" in no_store.output
    assert not (tmp_path / "s.csv").exists()


def test_serve_flags_merge_into_the_operators_bentoml_overrides():
    existing = json.dumps({"services": {"retain": {"traffic": {"timeout": 5}}}, "version": 2})
    merged = json.loads(bentoml_overrides(existing, workers=3, access_log=False))
    assert merged == {
        "services": {
            "retain": {
                "traffic": {"timeout": 5},
                "workers": 3,
                "logging": {"access": {"enabled": False}},
            }
        },
        "version": 2,
    }
    assert json.loads(bentoml_overrides(None)) == {"services": {"retain": {}}}


def test_serve_refuses_overrides_that_are_not_json(tmp_path, monkeypatch):
    monkeypatch.setenv("BENTOML_CONFIG_OVERRIDES", "{workers: 2")
    result = runner.invoke(app, ["serve", "--events", str(tmp_path), "--workers", "2"])
    assert result.exit_code == 2
    assert "BENTOML_CONFIG_OVERRIDES is not valid JSON" in result.output
    assert "Traceback" not in result.output
