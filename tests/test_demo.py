"""`retain demo` end to end on a small simulated product: every promised file and model exists."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from retain.cli import app
from tests.stores import new_mlflow_store


@pytest.mark.slow
def test_demo_trains_registers_scores_and_lists(
    tmp_path: Path, monkeypatch, empty_mlflow_db: Path
) -> None:
    uri = new_mlflow_store(tmp_path, empty_mlflow_db)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["demo", "--out-dir", str(out), "--users", "3000", "--days", "400", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("retain-churn", "retain-recall", "retain-value"):
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    scores = pd.read_parquet(out / "scores.parquet")
    features = pd.read_parquet(out / "features.parquet")
    listed = pd.read_csv(out / "churn-list.csv")
    plan = pd.read_csv(out / "action-plan.csv")
    assert len(scores) == len(features) == scores["user_id"].nunique() > 1000
    assert scores["churn_probability"].between(0, 1).all()
    assert set(scores["lifecycle_stage"]) <= {
        "new", "active", "at_risk", "dormant", "churned", "reactivated"
    }  # fmt: skip
    assert list(listed["rank"]) == list(range(1, len(listed) + 1))
    # The churn list: whom we are about to lose, by churn probability × value at stake.
    assert listed["value_at_risk"].is_monotonic_decreasing
    assert (
        listed["value_at_risk"] - listed["churn_probability"] * listed["value_at_stake"]
    ).abs().max() < 1e-9
    # The action plan: whom we contact, by expected gain; it is every user with an action.
    assert plan["expected_gain"].is_monotonic_decreasing
    assert len(plan) == (scores["action"] != "no_action").sum()
    at_risk_high = scores[
        (scores["lifecycle_stage"] == "at_risk") & (scores["value_tier"] == "high")
    ]
    assert len(at_risk_high) > 20
    assert (at_risk_high["action"] != "no_action").mean() >= 0.8
    assert "scoring summary by lifecycle stage" in result.output
    page = (out / "report.html").read_text()
    # 4 segment charts, 1 cohort chart, 2 plots per champion model (churn, recall, value),
    # 5 weekly KPI charts (active, conversion, repurchase, refund, AOV) and 1 funnel chart
    assert page.count("data:image/png;base64,") == 4 + 1 + 2 * 3 + 5 + 1
    assert "churn model v1" in page and "Weekly KPIs" in page and "Funnel" in page
