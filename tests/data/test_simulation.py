"""The synthetic event log: contract, determinism, product-like behaviour and campaign truth.

Plausibility is checked on a small run (3,000 users × 365 days) against the ranges promised in
`simulator/simulation.py`; campaign effects on a run large enough that treated-vs-control
differences are well beyond noise.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from retain.commands.simulate import simulate
from simulator.campaigns import CampaignPlan, truth_path
from simulator.events import EVENT_TYPES
from simulator.simulation import SimulationConfig, simulate_events, write_simulation

START = pd.Timestamp("2024-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def year_log() -> pd.DataFrame:
    return simulate_events(SimulationConfig(users=3_000, days=365, seed=11, chunk_users=1_000))


def _no_event_after(events: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per user seen before the cutoff: days since last event, and churn in the next 30 days."""
    before = events[events["event_time"] < cutoff]
    after = events[(events["event_time"] >= cutoff) & (events["event_time"] < cutoff + 30 * DAY)]
    last = before.groupby("user_id")["event_time"].max()
    return pd.DataFrame(
        {
            "recency_days": (cutoff - last) / DAY,
            "churned": ~last.index.isin(after["user_id"].unique()),
        }
    )


def test_written_log_follows_the_event_contract(tmp_path):
    config = SimulationConfig(users=500, days=60, seed=3, chunk_users=200)
    out = tmp_path / "events.parquet"
    summary = write_simulation(config, out)

    parquet = pq.ParquetFile(out)
    assert parquet.metadata.num_row_groups == config.n_chunks == 3
    table = parquet.read()
    assert table.schema.field("user_id").type == pa.string()
    assert table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("event_type").type == pa.string()
    assert table.schema.field("amount").type == pa.float64()
    frame = table.to_pandas()
    assert summary.events == len(frame) > 0
    assert set(frame["event_type"]) <= set(EVENT_TYPES)
    assert frame["user_id"].map(lambda user: re.fullmatch(r"u\d{7}", user) is not None).all()
    assert frame["user_id"].nunique() <= config.users
    assert frame["event_time"].min() >= START
    assert frame["event_time"].max() < START + config.days * DAY
    kind = frame["event_type"]
    assert (frame.loc[kind == "purchase", "amount"] > 0).all()
    assert (frame.loc[kind == "refund", "amount"] < 0).all()
    assert (frame.loc[~kind.isin(["purchase", "refund"]), "amount"] == 0.0).all()
    assert set(frame["channel"]) <= {"organic", "paid_search", "social", "referral"}
    assert set(frame["platform"]) <= {"ios", "android", "web"}
    assert summary.purchases == (kind == "purchase").sum()
    assert summary.revenue == pytest.approx(frame.loc[kind == "purchase", "amount"].sum())
    assert not list(tmp_path.glob(".*partial")), "no half-written file is left behind"


def test_same_seed_same_log_and_other_seed_another():
    config = SimulationConfig(users=400, days=90, seed=5, chunk_users=150)
    first, again = simulate_events(config), simulate_events(config)
    pd.testing.assert_frame_equal(first, again)
    other = simulate_events(config.model_copy(update={"seed": 6}))
    assert len(other) != len(first) or not other.equals(first)


@pytest.mark.parametrize("bad", [{"users": 0}, {"days": 0}, {"users": -5}, {"chunk_users": 0}])
def test_config_rejects_empty_simulations(bad):
    with pytest.raises(ValidationError):
        SimulationConfig(**bad)


def test_campaign_windows_may_not_overlap():
    with pytest.raises(ValidationError, match="overlap"):
        CampaignPlan(every_days=20, window_days=30)


def test_churn_share_among_recently_active_users_is_realistic(year_log):
    labelled = _no_event_after(year_log, START + 182 * DAY)
    active = labelled[labelled["recency_days"] <= 90]
    assert len(active) > 300
    assert 0.10 <= active["churned"].mean() <= 0.50


def test_recent_activity_predicts_staying(year_log):
    labelled = _no_event_after(year_log, START + 182 * DAY)
    recent = labelled.loc[labelled["recency_days"] <= 7, "churned"].mean()
    lapsing = labelled.loc[labelled["recency_days"].between(30, 90), "churned"].mean()
    assert recent < 0.5 * lapsing
    assert recent > 0.0 and lapsing < 1.0, "churn is predictable, not deterministic"


def test_revenue_is_heavy_tailed_and_refunds_are_a_small_share(year_log):
    purchases = year_log[year_log["event_type"] == "purchase"]
    per_buyer = purchases.groupby("user_id")["amount"].sum().sort_values(ascending=False)
    top_decile = per_buyer.iloc[: int(np.ceil(0.1 * len(per_buyer)))].sum()
    assert top_decile >= 0.40 * per_buyer.sum()
    order_value = purchases["amount"]
    assert order_value.quantile(0.99) > 5 * order_value.median()  # big baskets are rare, not absent
    refunds = year_log[year_log["event_type"] == "refund"]
    assert len(refunds) > 0
    assert -refunds["amount"].sum() < 0.15 * purchases["amount"].sum()


def test_each_refund_returns_part_of_a_recent_purchase(year_log):
    purchases = year_log[year_log["event_type"] == "purchase"]
    refunds = year_log[year_log["event_type"] == "refund"]
    pairs = refunds.merge(purchases, on="user_id", suffixes=("_refund", "_purchase"))
    lag = pairs["event_time_refund"] - pairs["event_time_purchase"]
    covered = pairs[
        (lag > pd.Timedelta(0))
        & (lag <= 8 * DAY)
        & (-pairs["amount_refund"] <= pairs["amount_purchase"] + 1e-9)
    ]
    assert covered.groupby(["user_id", "event_time_refund"]).ngroups == len(refunds)


def test_weekends_are_busier_and_evenings_beat_nights(year_log):
    per_day = year_log.groupby(year_log["event_time"].dt.floor("D")).size()
    weekend = per_day.index.day_of_week >= 5
    assert per_day[weekend].mean() > 1.1 * per_day[~weekend].mean()
    hour = year_log["event_time"].dt.hour
    assert hour.between(18, 22).mean() > 3 * hour.between(2, 5).mean()


def test_users_arrive_over_time_through_every_channel(year_log):
    first_day = (year_log.groupby("user_id")["event_time"].min() - START) / DAY
    assert (first_day >= 273).sum() > (first_day < 91).sum()  # growth: more sign-ups lately
    assert set(year_log["channel"]) == {"organic", "paid_search", "social", "referral"}


def test_some_dormant_users_come_back_after_90_silent_days(year_log):
    ordered = year_log.sort_values(["user_id", "event_time"])
    gap_days = ordered.groupby("user_id")["event_time"].diff() / DAY
    assert (gap_days >= 90).sum() > 0


def test_cli_writes_a_log_and_reports_it(tmp_path):
    app = typer.Typer()
    app.command()(simulate)
    out = tmp_path / "sim" / "events.parquet"
    campaigns = tmp_path / "sim" / "campaigns.parquet"
    result = CliRunner().invoke(
        app,
        [
            *("--users", "300", "--days", "200", "--seed", "1", "--out", str(out)),
            *("--start", "2023-06-01", "--campaigns", str(campaigns)),
        ],
    )
    assert result.exit_code == 0, result.output
    events = pd.read_parquet(out)
    assert f"{len(events):,} events" in result.output
    assert "revenue" in result.output and "2023-06-01" in result.output
    assert events["event_time"].min() >= pd.Timestamp("2023-06-01", tz="UTC")
    assert pd.read_parquet(campaigns)["group"].isin(["treated", "control"]).all()
    assert truth_path(campaigns).exists()


@pytest.mark.parametrize(
    "arguments",
    [["--users", "0"], ["--start", "June"], ["--out", "events.csv"]],
)
def test_cli_rejects_bad_options_without_a_traceback(tmp_path, arguments):
    app = typer.Typer()
    app.command()(simulate)
    default_out = ["--out", str(tmp_path / "events.parquet")]
    result = CliRunner().invoke(app, default_out + arguments)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "events.parquet").exists()


@pytest.mark.slow
def test_campaigns_have_known_effects_that_the_log_reveals(tmp_path):
    config = SimulationConfig(users=30_000, days=365, seed=21, campaigns=CampaignPlan())
    campaigns = tmp_path / "campaigns.parquet"
    write_simulation(config, tmp_path / "events.parquet", campaigns)
    log = pd.read_parquet(campaigns)
    truth = json.loads(truth_path(campaigns).read_text())["effects"]
    true_effect = {(row["action_id"], row["segment"]): row.get("true_effect") for row in truth}

    assert set(log["action_id"]) == {a for a, _ in true_effect}
    assert (log.groupby("action_id")["group"].nunique() == 2).all()
    assert (log["assigned_at"] >= log["cutoff"]).all()
    assert (log["segment"] == log["lifecycle_stage"] + "/" + log["value_tier"]).all()
    assert true_effect[("vip_care", "at_risk/low")] == 0.0  # no lift: both arms identical

    events = pd.read_parquet(tmp_path / "events.parquet", columns=["user_id", "event_time"])
    joined = log[["user_id", "cutoff"]].merge(events, on="user_id")
    in_window = joined[
        (joined["event_time"] >= joined["cutoff"])
        & (joined["event_time"] < joined["cutoff"] + 30 * DAY)
    ]
    seen = in_window[["user_id", "cutoff"]].drop_duplicates().assign(seen=True)
    log = log.merge(seen, on=["user_id", "cutoff"], how="left")
    log["churned"] = log["seen"].isna()
    rates = log.groupby(["action_id", "segment", "group"])["churned"].agg(["mean", "size"])

    def observed(action: str, segment: str) -> tuple[float, float]:
        treated, control = (
            rates.loc[(action, segment, "treated")],
            rates.loc[(action, segment, "control")],
        )
        se = np.sqrt(
            sum(arm["mean"] * (1 - arm["mean"]) / arm["size"] for arm in (treated, control))
        )
        return treated["mean"] - control["mean"], se

    helped, helped_se = observed("vip_care", "at_risk/high")
    backfired, backfired_se = observed("habit_nudge", "active/high")
    assert helped < -3 * helped_se and true_effect[("vip_care", "at_risk/high")] < -0.1
    assert backfired > 3 * backfired_se and true_effect[("habit_nudge", "active/high")] > 0.05
    for key, effect in true_effect.items():
        difference, se = observed(*key)
        assert abs(difference - effect) < 4 * se + 0.01, key
