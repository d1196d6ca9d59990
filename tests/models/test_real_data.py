"""Real data: the BG/NBD baseline reproduces the published CDNOW fit, and `retain evaluate`
compares Retain with every baseline on CDNOW and Online Retail, strictly out of time.

The published figures (Fader, Hardie & Lee 2005, "Counting your customers the easy way";
Fader & Hardie 2013, "The Gamma-Gamma model of monetary value") are maximum-likelihood
estimates on the 2,357-customer CDNOW sample with weeks 1–39 as the calibration period.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from features import FEATURE_SET
from features.adapters import read_cdnow
from retain.cli import app
from tests.conftest import shared_file
from training.config import ExperimentConfig
from training.real_data import split_for

runner = CliRunner()

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LOG_LIKELIHOOD = -9582.4
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
CALIBRATION_END = datetime(1997, 10, 1)  # weeks 1–39: 1997-01-01 .. 1997-09-30


@pytest.fixture(scope="module")
def cdnow_calibration():
    """BG/NBD + Gamma-Gamma fitted on the CDNOW sample's first 39 weeks (once per module)."""
    from training.clv_baselines import ClvBaseline

    events = read_cdnow(shared_file("CDNOW_sample.txt.gz")).events
    events = events.assign(
        event_time=pd.to_datetime(events["event_time"]), amount=events["amount"].astype(float)
    )
    return ClvBaseline.fit(events, CALIBRATION_END)


@pytest.mark.real_data
@pytest.mark.slow
def test_bgnbd_reproduces_the_published_cdnow_estimates(cdnow_calibration) -> None:
    fit = cdnow_calibration
    assert len(fit.rfm) == 2357
    assert int(fit.rfm["frequency"].sum()) == 2457  # repeat transactions in weeks 1–39
    for name, published in PUBLISHED_BGNBD.items():
        assert fit.params[name] == pytest.approx(published, rel=0.005), name
    assert fit.log_likelihood == pytest.approx(PUBLISHED_LOG_LIKELIHOOD, abs=0.5)


@pytest.mark.real_data
@pytest.mark.slow
def test_gamma_gamma_reproduces_the_published_cdnow_estimates(cdnow_calibration) -> None:
    assert cdnow_calibration.spend_params is not None
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert cdnow_calibration.spend_params[name] == pytest.approx(published, rel=0.01), name


@pytest.mark.real_data
@pytest.mark.slow
def test_bgnbd_churn_is_the_probability_of_no_purchase_in_the_horizon(cdnow_calibration) -> None:
    """P(no purchase in t) = 1 − P(alive)·P(buy within t | alive): equal to the library's
    closed form for repeat buyers, the exact ((α+T)/(α+T+t))^r for one-time buyers, and never
    below 1 − P(alive) (a customer who is alive may still not buy within the horizon)."""
    fit = cdnow_calibration
    churn = fit.churn_probability(28)
    library = np.asarray(fit.model.expected_probability_no_purchase(t=4, data=fit.rfm)).ravel()
    repeat = fit.rfm["frequency"].to_numpy() > 0
    np.testing.assert_allclose(churn[repeat], library[repeat], rtol=1e-9)
    r, alpha, age = fit.params["r"], fit.params["alpha"], fit.rfm["T"].to_numpy()[~repeat]
    np.testing.assert_allclose(churn[~repeat], ((alpha + age) / (alpha + age + 4)) ** r)
    assert np.all(churn >= 1 - fit.probability_alive() - 1e-12)
    longer = fit.churn_probability(90)
    assert np.all(longer <= churn + 1e-12)  # a longer horizon leaves more time to buy


def test_split_for_never_lets_a_label_window_cross_the_as_of_date() -> None:
    as_of = datetime(2020, 12, 31)
    schedule = [as_of - timedelta(days=30 * k) for k in range(8, 0, -1)]
    rows = [
        {"user_id": str(u), "as_of": t, "churned": float(u % 2), "future_value": float(u)}
        for t in [*schedule, as_of]
        for u in range(6)
    ]
    frame = pd.DataFrame(rows)
    for column in FEATURE_SET.columns:
        frame[column] = 1.0
    for kind, horizon in (("churn", 30), ("value", 90)):
        data, validation = split_for(kind, frame, schedule, as_of, horizon)
        assert validation + timedelta(days=horizon) <= as_of
        assert validation == max(t for t in schedule if t + timedelta(days=horizon) <= as_of)
        assert all(t + timedelta(days=horizon) <= validation for t in data.train_cutoffs)
        assert set(data.report_keys["as_of"]) == {as_of}
        assert len(data.X_report) == 6


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    """A smaller boosting budget so each real-data run takes seconds, not a minute."""
    config = ExperimentConfig.model_validate(
        {
            "name": "real-data-test",
            "churn": {"num_boost_round": 300, "early_stopping_rounds": 30},
            "value": {"num_boost_round": 300, "early_stopping_rounds": 30},
            "cutoffs": {"count": 10, "step_days": 30, "min_history_days": 60},
        }
    )
    path = tmp_path / "real.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


@pytest.mark.real_data
@pytest.mark.slow
@pytest.mark.parametrize(
    ("dataset", "as_of"),
    [("CDNOW_sample.txt.gz", "1998-01-01"), ("online_retail_uci.csv.gz", "2011-09-01")],
)
def test_evaluate_prints_and_logs_the_side_by_side_table(
    dataset: str, as_of: str, small_config: Path, tracking_uri: str, tmp_path: Path
) -> None:
    events = shared_file(dataset)
    out = tmp_path / "result.md"
    result = runner.invoke(
        app,
        [
            *("evaluate", "--events", str(events), "--as-of", as_of),
            *("--config", str(small_config), "--out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    for model in ("retain", "recency_rule", "rfm_logreg", "bgnbd", "last_period_spend"):
        assert model in result.output
    assert "roc_auc" in result.output and "spearman" in result.output
    assert "Retain churn ROC-AUC" in result.output
    markdown = out.read_text()
    assert "| roc_auc |" in markdown and "| gini |" in markdown
    (run_id,) = re.findall(r"MLflow run id ([0-9a-f]{32})", result.output)
    run = mlflow.MlflowClient().get_run(run_id)
    metrics = run.data.metrics
    # The names a training run uses (oot_<metric>, <baseline>_oot_<metric>), with the kind first.
    assert 0.5 < metrics["churn.oot_roc_auc"] <= 1.0
    for model in ("recency_rule", "rfm_logreg", "bgnbd"):
        assert 0.5 < metrics[f"churn.{model}_oot_roc_auc"] <= 1.0, model
    assert "value.bgnbd_oot_gini" in metrics and "bgnbd.r" in metrics
    margin = metrics["churn.oot_roc_auc_margin_over_best_baseline"]
    low, high = (
        metrics["churn.oot_roc_auc_margin_ci_low"],
        metrics["churn.oot_roc_auc_margin_ci_high"],
    )
    assert low < margin < high
    assert "95% paired bootstrap" in " ".join(result.output.split())
    assert run.data.tags["run_type"] == "evaluate"
    # The calibration check: its report rate is the observed churn rate of the table's rows,
    # its ECE the table's; the floor is a spread, its mean below its 95th percentile.
    assert "Calibration: ECE" in markdown and "Calibration: ECE" in " ".join(result.output.split())
    assert metrics["churn.calibration.report_rate"] == pytest.approx(
        metrics["churn.oot_churn_rate"]
    )
    assert metrics["churn.calibration.ece"] == pytest.approx(metrics["churn.oot_ece"])
    assert (
        0
        < metrics["churn.calibration.ece_floor_mean"]
        <= metrics["churn.calibration.ece_floor_p95"]
    )
    # The value scale check: its bias is the table's mean prediction over its mean outcome.
    expected = metrics["value.oot_mean_predicted"] / metrics["value.oot_mean_actual"] - 1
    assert metrics["value.calibration.mean_bias"] == pytest.approx(expected, rel=1e-6)
    assert "Value scale: mean prediction" in markdown


def test_evaluate_refuses_an_as_of_whose_outcome_is_not_yet_observed(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,event_time,event_type,amount\n1,2024-01-01,purchase,5\n1,2024-02-01,purchase,5\n"
    )
    result = runner.invoke(
        app, ["evaluate", "--events", str(events), "--as-of", "2024-01-20", "--no-log"]
    )
    assert result.exit_code == 2
    assert "not fully seen" in result.output
