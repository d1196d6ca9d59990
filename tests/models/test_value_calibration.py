"""The value model's level and what its run says about it (issue 17 item 4): the unconditional
value calibrated on the fit half, the decile calibration logged as a plot and a table, and a
`beats_baselines` tag that names what it compared and is false when any headline metric loses.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from training.config import ExperimentConfig
from training.datasets import TrainingData
from training.evaluation import Outcome, evaluate
from training.registry import load_estimator
from training.train import train_models

HEADLINE = {"spearman": 0.40, "gini": 0.70, "decile_mape": 0.30}


@pytest.fixture(scope="module")
def value(training_data: TrainingData, config: ExperimentConfig) -> Outcome:
    return evaluate(training_data.for_model("value"), config, with_baselines=False)


def test_the_unconditional_value_totals_the_fit_halfs_spend(value: Outcome) -> None:
    data, model = value.data, value.estimator
    predicted = model.predict(data.X_fit)
    assert predicted.sum() == pytest.approx(float(data.y_fit.sum()), rel=1e-6)
    # one factor for both heads: the order and the heads' invariant are untouched
    assert (model.value_if_retained(data.X_fit) >= model.value_if_churned(data.X_fit)).all()
    assert model.mixture_scale_ > 0


def _outcome(model: dict[str, float], baseline: dict[str, float]) -> Outcome:
    return Outcome(
        kind="value",
        estimator=None,  # type: ignore[arg-type]
        data=None,  # type: ignore[arg-type]
        metrics=model,
        baseline_metrics={"last_period_spend": baseline},
        predictions=np.zeros(1),
    )


def _won_all_but(metric: str | None) -> dict[str, float]:
    """The model's headline metrics: 0.05 better than HEADLINE (the baseline's) on each,
    except `metric`, 0.05 worse (decile MAPE is better when lower)."""
    sign = {m: (-1.0 if m == "decile_mape" else 1.0) for m in HEADLINE}
    return {m: v + (-0.05 if m == metric else 0.05) * sign[m] for m, v in HEADLINE.items()}


@pytest.mark.parametrize("metric", sorted(HEADLINE))
def test_losing_any_headline_metric_means_not_beating_the_baselines(metric: str) -> None:
    outcome = _outcome(_won_all_but(metric), dict(HEADLINE))
    assert not outcome.beats_baselines
    warning = outcome.warning()
    assert warning is not None and metric in warning and "last_period_spend" in warning
    assert _outcome(_won_all_but(None), dict(HEADLINE)).beats_baselines


def test_mae_alone_does_not_decide() -> None:
    """MAE is reported, not a headline metric: a rule predicting the median (zero for most
    users) wins it without ranking anyone (training/metrics.py says why)."""
    ours = {**_won_all_but(None), "mae": 40.0}
    assert _outcome(ours, {**HEADLINE, "mae": 20.0}).beats_baselines


def _deciles_by_hand(y: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    order = np.argsort(pred, kind="stable")
    decile = np.empty(len(pred), dtype=int)
    for position, row in enumerate(order):  # position 0 is the lowest prediction
        decile[row] = min(position * 10 // len(pred), 9) + 1
    frame = pd.DataFrame({"decile": decile, "predicted": pred, "actual": y})
    return frame.groupby("decile").mean().reset_index()


def test_the_value_run_logs_its_decile_calibration_and_what_it_compared(
    tracking_uri: str, training_data: TrainingData, config: ExperimentConfig, tmp_path: Path
) -> None:
    (result,) = train_models(config, data=training_data, models=("value",))
    run = mlflow.get_run(result.run_id)
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["beats_baselines_metrics"] == "spearman,gini,decile_mape"
    assert tags["beats_baselines_against"] == "last_period_spend"
    lower_is_better = {"decile_mape"}
    won = all(
        (metrics[f"oot_{m}"] < metrics[f"last_period_spend_oot_{m}"])
        if m in lower_is_better
        else (metrics[f"oot_{m}"] > metrics[f"last_period_spend_oot_{m}"])
        for m in ("spearman", "gini", "decile_mape")
    )
    assert tags["beats_baselines"] == str(won).lower()

    folder = Path(mlflow.artifacts.download_artifacts(run_id=result.run_id, dst_path=tmp_path))
    png = (folder / "plots" / "value_deciles.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    logged = pd.read_csv(folder / "tables" / "value_calibration_deciles.csv")
    unconditional = logged[logged["target"] == "unconditional"].reset_index(drop=True)
    data = training_data.for_model("value")
    model = load_estimator("value", version=result.version)
    by_hand = _deciles_by_hand(data.y_report.to_numpy(float), model.predict(data.X_report))
    assert list(unconditional["decile"]) == list(range(1, 11))
    np.testing.assert_allclose(unconditional["predicted"], by_hand["predicted"], rtol=1e-9)
    np.testing.assert_allclose(unconditional["actual"], by_hand["actual"], rtol=1e-9)
