"""Short and small logs (issue 17 item 3): weekly cutoffs, thin-data warnings, regularisation
scaled to the rows, and the purchase-log preset chosen when a log has nothing but purchases.

Known answers are counted by hand from the dates in each test (comments give the arithmetic),
never read back from the code under test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from features import WindowConfig, from_frame, non_purchase_events
from retain.cli import app
from training.boosting import row_scaled_params
from training.config import (
    PURCHASE_LOG_MODELS,
    PURCHASE_LOG_WINDOWS,
    ChurnLightGBMParams,
    CutoffConfig,
    load_config,
    parse_config,
)
from training.estimators import ChurnClassifier
from training.log_adaptation import adapt_to_log
from training.schedule import plan_schedule

T0 = datetime(2024, 1, 1)
ALL_MODELS = ("churn", "recall", "value")
PRESET_YAML = Path(__file__).resolve().parents[2] / "experiments" / "purchase-log.yaml"
runner = CliRunner()


def _plan(days: int, cutoffs: CutoffConfig | None = None, *, step_chosen: bool = False):
    return plan_schedule(
        T0,
        T0 + timedelta(days=days),
        WindowConfig(),
        cutoffs or CutoffConfig(),
        ALL_MODELS,
        step_chosen=step_chosen,
    )


def _trained_on(plan, kind: str) -> int:
    horizon = 90 if kind == "value" else 30
    return sum(t + timedelta(days=horizon) <= plan.schedule[-1] for t in plan.schedule)


def test_a_nine_month_log_gets_weekly_cutoffs_and_says_so() -> None:
    # 270 days: the OOT cutoff is T0+180 (label horizon 90), the earliest T0+60 (history 60).
    # Monthly: 180, 150, 120, 90, 60 -> churn trains on <=150 (4), value on <=90 (2): short.
    # Weekly: 180 - 7k >= 60 -> k = 0..17 (18 cutoffs); churn <=150: k >= 5 -> 13;
    # value <=90: k >= 13 -> 5.
    plan = _plan(270)
    assert plan.cutoffs.step_days == 7
    assert len(plan.schedule) == 18
    assert plan.schedule[-1] == T0 + timedelta(days=180)
    assert plan.schedule[0] == T0 + timedelta(days=61)
    assert (_trained_on(plan, "churn"), _trained_on(plan, "value")) == (13, 5)
    said = " ".join(note.text for note in plan.notes)
    assert "weekly" in said and "value 2" in said and "value 5" in said
    assert "WARNING" not in said  # every model now has three or more


def test_fewer_than_three_training_cutoffs_is_a_warning_for_that_model() -> None:
    # 240 days: monthly 150, 120, 90, 60 -> value trains on <=60: one cutoff. Weekly would
    # start at 150 - 7*12 = 66 > 60 and leave value none, so monthly stays, with a warning.
    plan = _plan(240)
    assert plan.cutoffs.step_days == 30
    warnings = [note for note in plan.notes if note.text.startswith("WARNING")]
    assert [(note.model, "1 training cutoff " in note.text) for note in warnings] == [
        ("value", True)
    ]


def test_a_chosen_step_or_a_long_log_keeps_its_schedule() -> None:
    chosen = CutoffConfig(step_days=30)
    plan = _plan(270, chosen, step_chosen=True)
    assert plan.cutoffs.step_days == 30 and len(plan.schedule) == 5
    assert [note.model for note in plan.notes] == ["value"]  # warned, not changed
    # 400 days, count 3: 310, 280, 250 -> churn and recall train on two, value on none. Every
    # monthly cutoff the log allows (310 .. 70) would give value six: the log is not short,
    # the small count is the config's choice, kept and warned about.
    small = _plan(400, CutoffConfig(count=3))
    assert small.cutoffs.step_days == 30 and len(small.schedule) == 3
    assert sorted(note.model for note in small.notes) == ["churn", "recall", "value"]


def test_regularisation_scales_with_the_rows_by_hand() -> None:
    churn = ChurnLightGBMParams().lightgbm()  # 200 rows per leaf, 15 leaves
    # 300 rows: leaf = max(5, min(200, 300 // 20 = 15)) = 15; leaves = min(15, 300 // 30) = 10.
    small = row_scaled_params(churn, 300)
    assert (small["min_child_samples"], small["num_leaves"]) == (15, 10)
    # 60 rows: leaf = max(5, 3) = 5; leaves = min(15, 60 // 10) = 6.
    tiny = row_scaled_params(churn, 60)
    assert (tiny["min_child_samples"], tiny["num_leaves"]) == (5, 6)
    # 100,000 rows: the configured values stand.
    large = row_scaled_params(churn, 100_000)
    assert (large["min_child_samples"], large["num_leaves"]) == (200, 15)


def _tiny_churn_rows(n: int, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 60, n)
    frame = pd.DataFrame({"days_since_last_event": recency, "noise": rng.normal(size=n)})
    return frame, (rng.random(n) < 1 / (1 + np.exp(-(recency - 30) / 8))).astype(int)


def test_a_tiny_training_set_still_learns_splits() -> None:
    X, y = _tiny_churn_rows(300)  # noqa: N806
    X_valid, y_valid = _tiny_churn_rows(200, seed=4)  # noqa: N806
    params = ChurnLightGBMParams().lightgbm()
    # Unscaled, LightGBM cannot split 300 rows into leaves of 200: every tree is one leaf.
    bare = lgb.train({**params, "objective": "binary", "verbosity": -1}, lgb.Dataset(X, y), 5)
    assert all(tree["num_leaves"] == 1 for tree in bare.dump_model()["tree_info"])
    model = ChurnClassifier(params=params, num_boost_round=50, early_stopping_rounds=10)
    model.fit(X, y, X_valid, y_valid)
    trees = model.booster_.dump_model()["tree_info"]
    assert max(tree["num_leaves"] for tree in trees) > 1
    assert model.effective_params_["min_child_samples"] == 15
    # and it ranks the held-out rows by the recency that drives them
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y_valid, model.churn_probability(X_valid)) > 0.75


def _purchases(users: int, days: int, *, with_logins: bool = False) -> pd.DataFrame:
    """Each user buys every 9 to 40 days over `days` days (fixed seed); optionally logs in."""
    rng = np.random.default_rng(5)
    rows = []
    for user in range(users):
        day = float(rng.uniform(0, 30))
        gap = float(rng.uniform(9, 40))
        stop = float(rng.uniform(60, days * 1.5))  # some users stop buying
        while day < min(days, stop):
            when = T0 + timedelta(days=day)
            rows.append((f"u{user}", when, "purchase", round(float(rng.gamma(2.0, 15.0)), 2)))
            if with_logins:
                rows.append((f"u{user}", when - timedelta(hours=1), "login", None))
            day += gap * float(rng.uniform(0.5, 1.5))
    return pd.DataFrame(rows, columns=["user_id", "event_time", "event_type", "amount"])


def test_non_purchase_events_are_counted_by_hand() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "b"],
            "event_time": pd.date_range("2024-01-01", periods=6, freq="D"),
            # login, view: no money -> 2; 'order' with money, 'Refund' (any case), a purchase
            # and a 'return' without money are commerce -> not counted.
            "event_type": ["login", "order", "Refund", "view", "purchase", "return"],
            "amount": [None, 12.0, 0.0, 0.0, 3.0, None],
        }
    )
    assert non_purchase_events(from_frame(frame)) == 2


def test_a_purchase_only_log_gets_the_purchase_log_preset_unless_windows_are_named() -> None:
    purchases = from_frame(_purchases(60, 400))
    adapted = adapt_to_log(parse_config({}), purchases)
    assert adapted.overrides["windows"] == PURCHASE_LOG_WINDOWS
    assert adapted.overrides["models"] == PURCHASE_LOG_MODELS
    assert adapted.windows == PURCHASE_LOG_WINDOWS
    assert any("purchase-log preset" in note.text for note in adapted.notes)

    named = adapt_to_log(parse_config({"windows": {"churn_horizon_days": 30}}), purchases)
    assert "windows" not in named.overrides and named.windows.churn_horizon_days == 30
    richer = adapt_to_log(parse_config({}), from_frame(_purchases(60, 400, with_logins=True)))
    assert "windows" not in richer.overrides and richer.windows == WindowConfig()


def test_the_preset_constant_is_the_presets_yaml() -> None:
    preset = load_config(PRESET_YAML)
    assert preset.windows == PURCHASE_LOG_WINDOWS
    assert preset.models == PURCHASE_LOG_MODELS
    assert yaml.safe_load(PRESET_YAML.read_text())["windows"]["active_window_days"] == 365


@pytest.mark.slow
def test_train_on_a_short_purchase_only_log_says_what_it_chose(
    tmp_path: Path, tracking_uri: str
) -> None:
    """`retain train` on 270 days of purchases: the preset, weekly cutoffs, all in the output."""
    events = tmp_path / "orders.parquet"
    _purchases(400, 270).to_parquet(events)
    config = tmp_path / "small.yaml"
    config.write_text("name: short\nchurn:\n  num_boost_round: 40\nvalue:\n  num_boost_round: 40\n")
    result = runner.invoke(
        app,
        [
            "train",
            "--events",
            str(events),
            "--config",
            str(config),
            "--no-register",
            "--no-figures",
        ],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "purchase-log preset" in said and "cutoffs are weekly" in said
    assert "churn model, out-of-time report half" in said and "recall model" not in said
