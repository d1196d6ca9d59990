"""The stack of LightGBM and the baselines (training.stacking, training.value_stacking).

Known answers come from how each synthetic set is made, not from the code under test:

- "recency decides": churn is a logistic function of log(1 + days since the last event), the
  exact form the RFM logistic regression fits, plus 27 pure-noise columns that LightGBM can
  overfit on 1,500 rows. The best possible score is that logistic function; the stack must put
  little weight on LightGBM and score at least the baseline's report ROC-AUC minus noise.
- "an interaction decides": churn follows an XOR of two columns (plus a little recency), which no
  additive logistic model can express (its ROC-AUC stays near the recency part's); the stack
  must keep LightGBM.
- "last quarter's spend decides": future spend is the last 90 days' revenue times noise for
  retained users and a tenth of it for lost ones; the blend must lean on the spend baseline.

Contributions are checked against `raw_score` (1e-9), and the pyfunc against the estimator
after a round trip through a real MLflow SQLite store, as champions that serving loads.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features import ACTIVE_FLAG, FEATURE_SET
from serving.scoring import load_champions
from serving.scoring.attribution import PathAttribution
from serving.scoring.pipeline import score_features
from tests.stores import new_mlflow_store
from training.config import ExperimentConfig, parse_config
from training.datasets import ModelData, TrainingData
from training.estimators import ChurnClassifier, ValueRegressor
from training.evaluation import evaluate
from training.pyfunc import log_estimator
from training.registry import register, set_champion
from training.stacking import StackedChurnClassifier
from training.train import train_models
from training.value_stacking import StackedValueRegressor, simplex_grid

COLUMNS = list(FEATURE_SET.columns)
ROWS = {"train": 1_500, "fit": 3_000, "report": 3_000}
CONFIG = parse_config(
    {
        "name": "stacking-test",
        "churn": {"num_boost_round": 200, "early_stopping_rounds": 20},
        "value": {"num_boost_round": 200, "early_stopping_rounds": 20},
    },
    "stacking test",
)


def _features(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Non-negative columns of every v1 name, independent of each other."""
    frame = pd.DataFrame(rng.exponential(10.0, size=(rows, len(COLUMNS))), columns=COLUMNS)
    frame["days_since_last_event"] = rng.exponential(25.0, rows)
    return frame


def _recency_logit(X: pd.DataFrame) -> np.ndarray:  # noqa: N803
    return -4.0 + 1.5 * np.log1p(X["days_since_last_event"].to_numpy())


def _xor_logit(X: pd.DataFrame) -> np.ndarray:  # noqa: N803
    a = X["events_30d"].to_numpy() > 10.0 * np.log(2)  # the exponential's median: half each
    b = X["revenue_90d"].to_numpy() > 10.0 * np.log(2)
    return np.where(a ^ b, 2.5, -2.5) + 0.3 * _recency_logit(X)


def _model_data(kind: str, label, seed: int) -> ModelData:
    """Train, fit and report parts drawn alike; `label(X, rng)` makes the target (and `lost`)."""
    rng = np.random.default_rng(seed)
    parts = {}
    for part, rows in ROWS.items():
        X = _features(rows, rng)  # noqa: N806
        parts[part] = (X, *label(X, rng))
    keys = {
        part: pd.DataFrame(
            {"user_id": [f"{part}{i}" for i in range(n)], "as_of": datetime(2024, 6, 1)}
        )
        for part, n in ROWS.items()
    }
    lost = {part: pd.Series(v[2]) if len(v) > 2 else None for part, v in parts.items()}
    return ModelData(
        kind=kind,  # type: ignore[arg-type]
        X_train=parts["train"][0],
        y_train=pd.Series(parts["train"][1]),
        X_fit=parts["fit"][0],
        y_fit=pd.Series(parts["fit"][1]),
        X_report=parts["report"][0],
        y_report=pd.Series(parts["report"][1]),
        fit_keys=keys["fit"],
        report_keys=keys["report"],
        train_cutoffs=(datetime(2024, 4, 1),),
        oot_cutoff=datetime(2024, 6, 1),
        lost_train=lost["train"],
        lost_fit=lost["fit"],
        lost_report=lost["report"],
    )


def _drawn(logit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(logit)) < 1.0 / (1.0 + np.exp(-logit))).astype(float)


def _spend(X: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    lost = _drawn(_recency_logit(X), rng)
    noise = rng.gamma(4.0, 0.25, len(X))
    return X["revenue_90d"].to_numpy() * noise * np.where(lost == 1, 0.1, 1.0), lost


@pytest.fixture(scope="module")
def recency_decides():
    data = _model_data("churn", lambda x, rng: (_drawn(_recency_logit(x), rng),), seed=1)
    return evaluate(data, CONFIG)


@pytest.fixture(scope="module")
def interaction_decides():
    data = _model_data("churn", lambda x, rng: (_drawn(_xor_logit(x), rng),), seed=2)
    return evaluate(data, CONFIG)


@pytest.fixture(scope="module")
def spend_decides():
    return evaluate(_model_data("value", _spend, seed=3), CONFIG)


def _noise(y: pd.Series, auc: float) -> float:
    """Two standard errors of a ROC-AUC of `auc` on these labels (Hanley & McNeil, 1982)."""
    positives, negatives = float(y.sum()), float(len(y) - y.sum())
    q1, q2 = auc / (2.0 - auc), 2.0 * auc**2 / (1.0 + auc)
    variance = (
        auc * (1.0 - auc) + (positives - 1.0) * (q1 - auc**2) + (negatives - 1.0) * (q2 - auc**2)
    ) / (positives * negatives)
    return 2.0 * float(np.sqrt(variance))


def test_where_the_baseline_is_right_the_stack_leans_on_it(recency_decides) -> None:
    outcome = recency_decides
    stack = outcome.stack
    assert stack is not None and stack.choice != "lightgbm"
    assert isinstance(outcome.estimator, StackedChurnClassifier)
    weights = stack.weights
    linear = weights["rfm_logreg"] + weights["recency_rule"]
    assert weights["lightgbm"] < 0.5 * linear, weights
    # The truth's own ROC-AUC on the report rows bounds everyone; the stack is near it.
    data = outcome.data
    truth = roc_auc_score(data.y_report, _recency_logit(data.X_report))
    best_baseline = max(m["roc_auc"] for m in outcome.baseline_metrics.values())
    noise = _noise(data.y_report, best_baseline)
    assert outcome.metrics["roc_auc"] >= best_baseline - noise
    assert outcome.metrics["roc_auc"] <= truth + noise
    assert outcome.metrics["roc_auc"] >= stack.lightgbm_report_metrics["roc_auc"] - 0.005


def test_where_an_interaction_decides_the_stack_keeps_lightgbm(interaction_decides) -> None:
    outcome = interaction_decides
    stack = outcome.stack
    assert stack is not None
    if stack.choice == "lightgbm":
        assert isinstance(outcome.estimator, ChurnClassifier)
    else:
        assert stack.weights["lightgbm"] > stack.weights["rfm_logreg"]
    rfm = outcome.baseline_metrics["rfm_logreg"]["roc_auc"]
    assert outcome.metrics["roc_auc"] > rfm + 0.15
    assert outcome.metrics["roc_auc"] >= stack.lightgbm_report_metrics["roc_auc"] - 0.005
    assert outcome.beats_baselines


def test_stack_contributions_add_up_to_its_log_odds(recency_decides) -> None:
    model, X = recency_decides.estimator, recency_decides.data.X_report.head(200)  # noqa: N806
    exact = model.contributions(X)
    assert list(exact.columns) == [*COLUMNS, "bias"]
    np.testing.assert_allclose(exact.sum(axis=1), model.raw_score(X), atol=1e-9, rtol=0)
    # Serving's fast path attribution: LightGBM's part by paths, the same total.
    fast = PathAttribution(model).contributions(X)
    np.testing.assert_allclose(fast.sum(axis=1), model.raw_score(X), atol=1e-9, rtol=0)
    # The logistic regression's share is exact: weight × coef × standardised feature.
    weight = model.weights_["rfm_logreg"]
    np.testing.assert_allclose(
        exact["revenue_total"]
        - model.weights_["lightgbm"] * model.boosted_.contributions(X)["revenue_total"],
        weight * model.terms_["rfm_logreg"].contributions(X)["revenue_total"],
        atol=1e-9,
    )
    p = model.churn_probability(X)
    np.testing.assert_allclose(p, 1.0 / (1.0 + np.exp(-model.raw_score(X))), atol=1e-12)


def test_the_report_half_plays_no_part_in_the_stack(recency_decides) -> None:
    """Shuffled report labels leave the choice and the weights exactly as they were (only the
    fit half is read), while the report metrics move."""
    outcome = recency_decides
    labels = outcome.data.y_report.sample(frac=1.0, random_state=0).reset_index(drop=True)
    shuffled = evaluate(dataclasses.replace(outcome.data, y_report=labels), CONFIG)
    assert shuffled.stack is not None and outcome.stack is not None
    assert shuffled.stack.choice == outcome.stack.choice
    assert shuffled.stack.weights == outcome.stack.weights
    assert shuffled.stack.fit_metrics == outcome.stack.fit_metrics
    assert abs(shuffled.metrics["roc_auc"] - 0.5) < abs(outcome.metrics["roc_auc"] - 0.5)


def test_value_blend_leans_on_last_period_spend_and_keeps_its_heads(spend_decides) -> None:
    outcome = spend_decides
    model, data = outcome.estimator, outcome.data
    assert isinstance(model, StackedValueRegressor)
    assert model.weights_["last_period_spend"] > model.weights_["lightgbm"], model.weights_
    assert sum(model.weights_.values()) == pytest.approx(1.0)
    baseline = outcome.baseline_metrics["last_period_spend"]
    assert outcome.metrics["spearman"] >= baseline["spearman"] - 0.02
    for rows in (data.X_report, data.X_fit.assign(revenue_90d=1e6)):
        retained, churned = model.value_if_retained(rows), model.value_if_churned(rows)
        assert (retained >= churned - 1e-9).all() and (churned >= 0).all()
    # Level: the fit half's total is matched by construction (the shared factor).
    assert model.predict(data.X_fit).sum() == pytest.approx(data.y_fit.sum(), rel=1e-6)
    X = data.X_report.head(200)  # noqa: N806
    contributions = model.contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=1), model.raw_score(X), atol=1e-9, rtol=0)


def test_simplex_grid_holds_every_member_alone_and_sums_to_one() -> None:
    grid = simplex_grid(3, steps=20)
    assert len(grid) == 231  # C(22, 2) points on a 3-simplex with steps of 1/20
    assert np.allclose([w.sum() for w in grid], 1.0)
    assert grid[0].tolist() == [1.0, 0.0, 0.0]
    for corner in ([0, 1, 0], [0, 0, 1]):
        assert any(np.allclose(w, corner) for w in grid)


def _feature_frame(X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
    return X.assign(
        user_id=[f"u{i}" for i in range(len(X))],
        as_of=pd.Timestamp("2024-06-01"),
        **{ACTIVE_FLAG: 1.0},
    )


def _register(estimator, X: pd.DataFrame, kind: str) -> str:  # noqa: N803
    with mlflow.start_run() as run:
        info = log_estimator(estimator, X, kind)
    version, _ = register(info.model_uri, kind, run.info.run_id, {})  # type: ignore[arg-type]
    return version


def test_stacks_round_trip_through_mlflow_and_serve_like_plain_models(
    recency_decides,
    spend_decides,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    empty_mlflow_db: Path,
) -> None:
    uri = new_mlflow_store(tmp_path, empty_mlflow_db)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # This store's own experiment: a run started in an earlier test leaves MLflow's active
    # experiment pointing at another store's id.
    mlflow.set_experiment("stack-round-trip")
    churn, value = recency_decides.estimator, spend_decides.estimator
    X = recency_decides.data.X_report.head(300)  # noqa: N806
    # Champions as trained before stacking existed: the plain LightGBM models load and score.
    _register(churn.boosted_, X, "churn")
    _register(value.boosted_, X, "value")
    plain = load_champions(uri)
    assert isinstance(plain.churn, ChurnClassifier) and isinstance(plain.value, ValueRegressor)
    before = score_features(_feature_frame(X), plain).scores
    np.testing.assert_allclose(before["churn_probability"], churn.boosted_.churn_probability(X))
    # The stacks, promoted: same registry, same loader, same scoring path.
    for kind, model in (("churn", churn), ("value", value)):
        set_champion(kind, _register(model, X, kind), "stack", "1")  # type: ignore[arg-type]
    loaded = load_champions(uri)
    assert type(loaded.churn) is StackedChurnClassifier
    assert type(loaded.value) is StackedValueRegressor
    pyfunc = mlflow.pyfunc.load_model("models:/retain-churn@champion")
    np.testing.assert_allclose(pyfunc.predict(X.astype("float64")), churn.churn_probability(X))
    after = score_features(_feature_frame(X), loaded).scores
    np.testing.assert_allclose(after["churn_probability"], churn.churn_probability(X))
    np.testing.assert_allclose(after["value_if_retained"], value.value_if_retained(X))
    assert not np.allclose(after["churn_probability"], before["churn_probability"])
    np.testing.assert_allclose(
        loaded.churn.contributions(X).to_numpy(), churn.contributions(X).to_numpy(), atol=1e-12
    )


def test_a_run_logs_the_stack_and_judges_the_served_model(
    training_data: TrainingData, config: ExperimentConfig, tracking_uri: str
) -> None:
    """The run records the choice, the weights, the kept members, every candidate's fit-half
    metrics and LightGBM alone; `beats_baselines` is recomputed here from the logged report
    metrics of the served model and of each baseline, by hand."""
    (result,) = train_models(
        config, data=training_data, tracking_uri=tracking_uri, models=("value",), figures=False
    )
    run = mlflow.MlflowClient().get_run(result.run_id)
    params, metrics = run.data.params, run.data.metrics
    weights = {
        name: float(params[f"value.stack.weight.{name}"])
        for name in ("lightgbm", "last_period_spend")
    }
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-6)
    kept = [name for name, weight in weights.items() if weight > 0]
    assert params["value.stack.kept"] == ",".join(kept)
    assert params["value.stack.choice"] in ("stack", "lightgbm", "last_period_spend")
    for candidate in ("stack", "lightgbm", "last_period_spend"):
        assert np.isfinite(metrics[f"{candidate}_oot_fit_spearman"])
    assert np.isfinite(metrics["lightgbm_oot_spearman"])
    wins = (
        metrics["oot_spearman"] > metrics["last_period_spend_oot_spearman"]
        and metrics["oot_gini"] > metrics["last_period_spend_oot_gini"]
        and metrics["oot_decile_mape"] < metrics["last_period_spend_oot_decile_mape"]
    )
    assert run.data.tags["beats_baselines"] == str(wins).lower()
    assert run.data.tags["beats_baselines_metrics"] == "spearman,gini,decile_mape"
