"""Learning effects from simulated campaigns whose true effects are known, and deciding with them.

One small simulation (12,000 users, a year, four campaigns) is learned from once per module;
its truth file holds every targeted user's outcome under both arms, so the estimates can be
checked against the real effects, not against another estimate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.config import WindowConfig
from features.loading import load_events
from retain.cli import app
from serving.campaigns.effects import LearnedEffects, learn_effects
from serving.campaigns.effects_file import (
    EffectsFileError,
    build_effects_file,
    dump_effects,
    learned_catalogue,
    load_effects,
)
from serving.campaigns.estimates import EstimationConfig, estimate_effects
from serving.campaigns.outcomes import with_log_scores
from serving.campaigns.uplift import qini_coefficient, uplift_at
from serving.decisions.actions import load_catalogue
from serving.decisions.campaign_log import load_campaigns
from serving.decisions.policy import decide
from serving.reporting.effects_report import effects_section, gain_change
from simulator.campaigns import CampaignPlan, truth_path
from simulator.simulation import SimulationConfig, write_simulation
from tests.stores import new_mlflow_store

pytestmark = pytest.mark.slow  # one simulation and one effects run per module (~10 s)
SIM = SimulationConfig(users=12_000, days=365, seed=11, campaigns=CampaignPlan())
BACKFIRE = ("habit_nudge", "active/high")


@dataclass(frozen=True)
class Campaigns:
    events: Path
    log: Path
    truth: pd.DataFrame
    learned: LearnedEffects


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory: pytest.TempPathFactory) -> Campaigns:
    root = tmp_path_factory.mktemp("campaigns")
    events, log = root / "events.parquet", root / "campaigns.parquet"
    write_simulation(SIM, events, log)
    truth = pd.DataFrame(json.loads(truth_path(log).read_text())["effects"])
    learned = learn_effects(
        load_campaigns(log), load_events(events), WindowConfig(), load_catalogue()
    )
    return Campaigns(events, log, truth, learned)


def _with_truth(campaigns: Campaigns) -> pd.DataFrame:
    return campaigns.learned.effects.merge(campaigns.truth, on=["action_id", "segment"])


def test_every_true_effect_lies_in_its_interval(campaigns):
    cells = _with_truth(campaigns)
    assert len(cells) == len(campaigns.truth) == 14
    inside = cells["true_effect"].between(cells["churn_effect_low"], cells["churn_effect_high"])
    # 95 % intervals: over 8 seeds × 14 cells 98 % covered the truth (the truth is the effect on
    # these very users, so the Wald interval is conservative); allow one miss, never a far one.
    assert inside.sum() >= len(cells) - 1, cells.loc[~inside, ["action_id", "segment"]]
    z = (cells["churn_effect"] - cells["true_effect"]) / (
        (cells["churn_effect_high"] - cells["churn_effect_low"]) / (2 * 1.959964)
    )
    assert z.abs().max() < 2.8


def test_the_backfiring_segment_is_detected_and_the_helped_one_too(campaigns):
    cells = campaigns.learned.effects.set_index(["action_id", "segment"])
    assert cells.loc[BACKFIRE, "verdict"] == "backfires"
    assert cells.loc[BACKFIRE, "learned_effect"] < 0
    assert (cells["verdict"] == "backfires").sum() == 1
    assert cells.loc[("vip_care", "at_risk/high"), "verdict"] == "helps"
    assert cells.loc[("vip_care", "at_risk/low"), "verdict"] != "helps"  # true effect 0


def test_learned_effects_move_from_the_prior_toward_the_truth(campaigns):
    cells = _with_truth(campaigns).set_index(["action_id", "segment"])
    truth = cells["relative_effect_y"]  # share of churn removed, from the simulator
    prior_error = (cells["prior_effect"] - truth).abs()
    learned_error = (cells["learned_effect"] - truth).abs()
    assert (learned_error < prior_error).sum() >= 11  # of 14
    assert learned_error.median() < 0.5 * prior_error.median()
    big = cells["n_treated"] + cells["n_control"] > 1_000
    assert (learned_error[big] < 0.1).all()


def test_thin_data_stay_near_the_prior_and_thick_data_replace_it():
    def cell(n: int) -> pd.Series:
        churned = np.r_[np.zeros(n // 2), np.ones(n // 2), np.zeros(3 * n // 4), np.ones(n // 4)]
        frame = pd.DataFrame(
            {
                "action_id": "vip_care",
                "segment": "at_risk/high",
                "group": ["control"] * n + ["treated"] * n,
                "churned": churned,
                "future_value": 1.0,
            }
        )  # control churns 50 %, treated 25 %: half the churn removed (prior: 0.35)
        return estimate_effects(frame, load_catalogue(), EstimationConfig(prior_sd=0.1)).iloc[0]

    thin, thick = cell(8), cell(8_000)
    assert thin["relative_effect"] == thick["relative_effect"] == pytest.approx(0.5)
    assert abs(thin["learned_effect"] - 0.35) < abs(thin["learned_effect"] - 0.5)
    assert thick["learned_effect"] == pytest.approx(0.5, abs=0.01)
    assert thin["learned_effect_se"] > thick["learned_effect_se"]


def test_the_revenue_basis_reproduces_the_measured_incremental_revenue():
    frame = pd.DataFrame(
        {
            "action_id": "vip_care",
            "segment": "at_risk/high",
            "group": ["control"] * 4 + ["treated"] * 4,
            "churned": [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            "future_value": [10.0, 20.0, 10.0, 20.0, 20.0, 30.0, 20.0, 30.0],  # +10 per user
            "churn_probability": [0.25, 0.75] * 4,
            "value_at_stake": 40.0,  # p × stake: 10 and 30, mean 20
        }
    )
    revenue = EstimationConfig(effect_basis="revenue")
    cell = estimate_effects(frame, load_catalogue(), revenue).iloc[0]
    assert cell["value_effect"] == pytest.approx(10.0)
    assert cell["value_exposure"] == pytest.approx(20.0)
    assert cell["revenue_effect"] == pytest.approx(0.5)  # 10 / 20
    # Welch: sd² = 100/3 in each arm of 4 → se = sqrt(2 · 100/12) = 4.082; / 20 = 0.2041.
    assert cell["revenue_effect_se"] == pytest.approx(np.sqrt(200 / 12) / 20)
    # Unshrunk, the gain formula gives back the measured revenue on the cell's average user.
    gains = frame["churn_probability"] * cell["revenue_effect"] * frame["value_at_stake"]
    assert gains.mean() == pytest.approx(cell["value_effect"])
    # Shrunk toward the churn basis's learned effect (sd 0.3), itself the prior 0.35 and the
    # churn data: control churns 2/4, treated 1/4, so half the churn removed.
    churn = estimate_effects(frame, load_catalogue()).iloc[0]
    assert churn["relative_effect"] == pytest.approx(0.5) and np.isnan(churn["revenue_effect"])
    q_t, q_c = 2 / 6, 3 / 6  # Agresti–Caffo: (x + 1) / (n + 2)
    var_t, var_c = q_t * (1 - q_t) / 6, q_c * (1 - q_c) / 6
    relative_se = np.sqrt(var_t / 0.5**2 + (0.25 / 0.5**2) ** 2 * var_c)
    w_prior, w_churn = 1 / 0.09, 1 / relative_se**2
    churn_basis = (w_prior * 0.35 + w_churn * 0.5) / (w_prior + w_churn)
    assert churn["learned_effect"] == pytest.approx(churn_basis)
    w_revenue = 1 / (200 / 12 / 400)  # precision of the revenue effect (se 0.2041)
    expected = (w_prior * churn_basis + w_revenue * 0.5) / (w_prior + w_revenue)
    assert cell["learned_effect"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="needs the campaign rows' value_at_stake"):
        estimate_effects(frame.drop(columns="value_at_stake"), None, revenue)


def test_log_scores_are_read_back_from_a_holdout_list(tmp_path):
    as_of = pd.Timestamp("2024-06-01", tz="UTC")
    listed = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "action": ["vip_care", "habit_nudge", "no_action"],
            "assignment": ["treated", "control", "none"],
            "as_of": as_of,
            "lifecycle_stage": ["at_risk", "active", "active"],
            "value_tier": ["high", "mid", "low"],
            "churn_probability": [0.7, 0.2, 0.1],
            "value_at_stake": [90.0, 30.0, 5.0],
        }
    )
    path = tmp_path / "list.parquet"
    listed.to_parquet(path)
    rows = with_log_scores(load_campaigns(path).frame, path)
    assert rows["user_id"].tolist() == ["a", "b"]
    assert rows["churn_probability"].tolist() == [0.7, 0.2]
    assert rows["value_at_stake"].tolist() == [90.0, 30.0]
    with pytest.raises(ValueError, match="needs the log's value_at_stake"):
        listed.drop(columns="value_at_stake").to_parquet(path)
        with_log_scores(load_campaigns(path).frame, path)


def test_the_policy_stops_sending_the_backfiring_action_there(campaigns):
    catalogue = load_catalogue()
    effects_file = build_effects_file(
        campaigns.learned.effects, source={}, windows={}, estimation={}
    )
    learned, skipped = learned_catalogue(catalogue, effects_file)
    assert skipped == []
    rng = np.random.default_rng(0)
    users = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(600)],
            "churn_probability": rng.uniform(0.1, 0.45, 600),
            "value_at_stake": rng.gamma(2.0, 80.0, 600),
            "lifecycle_stage": "active",
            "value_tier": np.repeat(["high", "mid", "low"], 200),
        }
    )
    before = decide(users, catalogue)["action"]
    after = decide(users, learned)["action"]
    high = (users["value_tier"] == "high").to_numpy()
    assert (before[high] == "habit_nudge").mean() > 0.9  # the prior (+4 %) says nudge them
    assert not (after[high] == "habit_nudge").any()
    assert (after[~high] != "no_action").mean() > 0.9  # elsewhere the nudge still pays

    # serving/reporting/effects_report.py still values gains with `predicted_value`: the same
    # numbers here.
    users["predicted_value"] = users["value_at_stake"]
    gains = gain_change(users.assign(as_of=pd.Timestamp("2024-12-31")), catalogue, effects_file)
    assert gains.loc["total", "change"] > 0
    html = effects_section(users, catalogue, effects_file)
    assert "habit_nudge backfires on active/high" in html
    assert "the learned plan to 0." in html


def test_uplift_models_beat_random_ordering_where_effects_differ(campaigns):
    by_action = {e.action_id: e for e in campaigns.learned.uplift}
    vip = by_action["vip_care"]  # helps high tiers a lot, low tiers not at all
    assert vip.qini_model > 0
    assert vip.uplift_at_k_model > vip.uplift_at_k_random


def test_qini_and_uplift_at_k_on_known_orderings():
    rng = np.random.default_rng(1)
    n = 4_000
    responsive = rng.random(n) < 0.5
    treated = rng.random(n) < 0.5
    retained = np.where(treated & responsive, rng.random(n) < 0.9, rng.random(n) < 0.5)
    assert qini_coefficient(responsive + rng.random(n) * 0.1, treated, retained) > 0.02
    assert abs(qini_coefficient(rng.random(n), treated, retained)) < 0.02
    assert qini_coefficient(~responsive + rng.random(n) * 0.1, treated, retained) < -0.02
    assert uplift_at(responsive.astype(float), treated, retained, 0.5) > 0.3


def test_effects_file_round_trip_and_errors(campaigns, tmp_path):
    effects_file = build_effects_file(
        campaigns.learned.effects,
        source={"campaigns": "c.parquet"},
        windows={"churn_horizon_days": 30},
        estimation={"confidence": 0.95},
        mlflow_run_id="abc",
    )
    path = tmp_path / "effects.yaml"
    path.write_text(dump_effects(effects_file))
    loaded = load_effects(path)
    assert loaded.version == effects_file.version and loaded.mlflow_run_id == "abc"
    assert loaded.table()["learned_effect"].tolist() == pytest.approx(
        campaigns.learned.effects["learned_effect"].tolist()
    )
    path.write_text("schema: something-else\n")
    with pytest.raises(EffectsFileError, match="not a `retain effects` file"):
        load_effects(path)
    path.write_text(dump_effects(effects_file).replace("segment: active/high", "segment: x"))
    with pytest.raises(EffectsFileError, match=r"effects\.0\.segment"):
        load_effects(path)


def test_retain_effects_logs_a_run_and_writes_a_versioned_file(
    campaigns, tmp_path, empty_mlflow_db
):
    uri = new_mlflow_store(tmp_path, empty_mlflow_db)
    out = tmp_path / "effects.yaml"
    result = CliRunner().invoke(
        app,
        ["effects", "--campaigns", str(campaigns.log), "--events", str(campaigns.events),
         "--out", str(out), "--tracking-uri", uri, "--no-uplift"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "habit_nudge backfires on active/high" in result.output
    written = load_effects(out)
    run = mlflow.MlflowClient(uri).get_run(written.mlflow_run_id)
    assert run.data.metrics["habit_nudge.active/high.churn_effect"] > 0
    assert run.data.tags["data_fingerprint"] == written.source["campaigns_fingerprint"]
    artifacts = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run.info.run_id)}
    assert {"effects.yaml", "effects.csv"} <= artifacts

    bad = CliRunner().invoke(
        app, ["effects", "--campaigns", str(campaigns.events), "--events", str(campaigns.events),
              "--out", str(out), "--tracking-uri", uri],
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "missing required columns 'action_id'" in bad.output
    unscored = CliRunner().invoke(
        app, ["effects", "--campaigns", str(campaigns.log), "--events", str(campaigns.events),
              "--out", str(out), "--tracking-uri", uri, "--no-uplift", "--effect-basis",
              "revenue"],
    )  # fmt: skip
    assert unscored.exit_code == 2
    assert "needs the log's churn_probability, value_at_stake" in unscored.output


def test_retain_effects_on_the_revenue_basis_pools_each_actions_cells(
    campaigns, tmp_path, empty_mlflow_db
):
    # The simulated log with Retain-like scores (p × value at stake = 30 for everyone), as a
    # `--holdout-share` list would carry them.
    scored = tmp_path / "scored.parquet"
    pd.read_parquet(campaigns.log).assign(churn_probability=0.3, value_at_stake=100.0).to_parquet(
        scored
    )
    out = tmp_path / "effects.yaml"
    result = CliRunner().invoke(
        app,
        ["effects", "--campaigns", str(scored), "--events", str(campaigns.events), "--out",
         str(out), "--tracking-uri", new_mlflow_store(tmp_path, empty_mlflow_db), "--no-uplift",
         "--effect-basis", "revenue"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "revenue basis: vip_care pooled over 3 segments" in result.output
    written = load_effects(out)
    assert written.estimation["effect_basis"] == "revenue"
    table = written.table()
    assert table["value_exposure"].dropna().tolist() == pytest.approx(
        [30.0] * table["value_exposure"].notna().sum()
    )
    measured = table[table["revenue_effect"].notna()]
    pooled = table[table["beyond_churn_pooled"].notna()]
    # Every action with two or more measured cells is pooled, all of its measured cells.
    assert set(pooled["action_id"]) == {
        a for a, n in measured["action_id"].value_counts().items() if n >= 2
    }
    assert len(pooled) == measured["action_id"].isin(pooled["action_id"]).sum()
    assert BACKFIRE in set(zip(pooled["action_id"], pooled["segment"], strict=True))
    for _, cells in pooled.groupby("action_id"):
        assert cells["beyond_churn_pooled"].nunique() == 1
        # Each cell's part beyond churn lands between its own and its action's pooled one...
        churn_basis = cells["churn_basis_effect"].to_numpy()
        own = cells["revenue_effect"].to_numpy() - churn_basis
        part = cells["learned_effect"].to_numpy() - churn_basis
        low = np.minimum(own, cells["beyond_churn_pooled"].to_numpy()) - 1e-9
        high = np.maximum(own, cells["beyond_churn_pooled"].to_numpy()) + 1e-9
        kept = (cells["verdict"] != "backfires").to_numpy()
        assert ((part >= low) & (part <= high))[kept].all()
        # ...except that a measured backfire is never lifted above its churn-basis effect.
        assert ((part >= np.minimum(low, 0)) & (part <= 1e-12))[~kept].all()
