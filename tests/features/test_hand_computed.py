"""Features and labels on the tiny log equal the values computed by hand (DESIGN.md §3).

Each input format and both engines must give the same hand-checked numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from features import WindowConfig, feature_frame, load_events
from features.engines import connect
from tests.features.tiny_log import CUTOFF, tiny_events

# Hand-computed at T = 2024-04-01 00:00 UTC (see tiny_log.py for each event's position).
EXPECTED = {
    "u1": dict(
        days_since_last_event=0.25,
        days_since_first_event=90.5,
        events_7d=3,
        events_30d=4,
        events_90d=5,
        active_days_30d=4,
        purchases_90d=2,
        revenue_90d=65.0,
        revenue_total=65.0,
        churned=0.0,
        future_value=30.0,
        returned=None,  # active at T: no return label
    ),
    "u2": dict(
        days_since_last_event=122.0,
        days_since_first_event=122.0,
        events_7d=0,
        events_30d=0,
        events_90d=0,
        active_days_30d=0,
        purchases_90d=0,
        revenue_90d=0.0,
        revenue_total=100.0,
        churned=None,
        future_value=10.0,
        returned=0.0,  # lapsed; back exactly at T+30d, outside the churn horizon
    ),
    "u4": dict(
        days_since_last_event=46.0,
        days_since_first_event=46.0,
        events_7d=0,
        events_30d=0,
        events_90d=1,
        active_days_30d=0,
        purchases_90d=0,
        revenue_90d=0.0,
        revenue_total=0.0,
        churned=1.0,
        future_value=0.0,
        returned=None,
    ),
    "u5": dict(
        days_since_last_event=22.0,
        days_since_first_event=22.0,
        events_7d=0,
        events_30d=1,
        events_90d=1,
        active_days_30d=1,
        purchases_90d=0,
        revenue_90d=0.0,
        revenue_total=0.0,
        churned=1.0,
        future_value=0.0,
        returned=None,
    ),
    "u6": dict(
        days_since_last_event=12.0,
        days_since_first_event=183.0,
        events_7d=0,
        events_30d=1,
        events_90d=1,
        active_days_30d=1,
        purchases_90d=0,
        revenue_90d=0.0,
        revenue_total=0.0,
        churned=1.0,
        future_value=0.0,
        returned=None,
        reactivated_30d=1,
    ),
}
# u1's richer features, by hand.
EXPECTED_U1_EXTRA = dict(
    events_total=6,
    events_prev_30d=0,
    activity_change_30d=None,
    active_days_90d=5,
    purchases_total=2,
    days_since_last_purchase=6 + 16 / 24,
    avg_purchase_value=35.0,
    refunds_90d=1,
    refund_amount_total=5.0,
    mean_gap_days=90.25 / 5,
    events_per_active_day_30d=1.0,
    distinct_event_types_90d=4,
    purchase_rate_90d=0.4,
    weekend_share_90d=0.4,
    night_share_90d=0.4,
    reactivated_30d=0,
    revenue_30d=65.0,
)


def _write(frame: pd.DataFrame, folder: Path, fmt: str) -> Path:
    path = folder / f"events.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif fmt == "parquet":  # a typed Parquet file: zoned timestamps already resolved to UTC
        typed = frame.assign(
            event_time=pd.to_datetime(frame["event_time"], utc=True, format="ISO8601"),
            amount=pd.to_numeric(frame["amount"]),
        )
        typed.to_parquet(path, index=False)
    return path


def assert_row(row: pd.Series, expected: dict) -> None:
    for name, value in expected.items():
        got = row[name]
        if value is None:
            assert pd.isna(got), f"{row['user_id']}.{name}: expected missing, got {got}"
        else:
            assert not pd.isna(got), f"{row['user_id']}.{name}: expected {value}, got missing"
            assert math.isclose(float(got), float(value), rel_tol=1e-9, abs_tol=1e-6), (
                f"{row['user_id']}.{name}: expected {value}, got {got}"
            )


@pytest.fixture(scope="module")
def duckdb_backend():
    return connect("duckdb")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_features_and_labels_match_hand_computation(tmp_path, fmt, duckdb_backend):
    path = _write(tiny_events(), tmp_path, fmt)
    loaded = load_events(path, "duckdb", backend=duckdb_backend)
    frame = feature_frame(loaded, CUTOFF, WindowConfig(), labels=True).set_index(
        "user_id", drop=False
    )
    assert list(frame["user_id"]) == sorted(EXPECTED), "one row per user seen before the cutoff"
    for user, expected in EXPECTED.items():
        assert_row(frame.loc[user], expected)
    assert_row(frame.loc["u1"], EXPECTED_U1_EXTRA)
    assert (frame["as_of"] == pd.Timestamp(CUTOFF)).all()


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_spark_gives_the_same_hand_computed_values(tmp_path, fmt, spark_backend):
    path = _write(tiny_events(), tmp_path, fmt)
    loaded = load_events(path, "spark", backend=spark_backend)
    frame = feature_frame(loaded, CUTOFF, WindowConfig(), labels=True).set_index(
        "user_id", drop=False
    )
    assert list(frame["user_id"]) == sorted(EXPECTED)
    for user, expected in EXPECTED.items():
        assert_row(frame.loc[user], expected)
    assert_row(frame.loc["u1"], EXPECTED_U1_EXTRA)


def test_activity_events_restrict_what_counts_as_activity(tmp_path, duckdb_backend):
    path = _write(tiny_events(), tmp_path, "csv")
    loaded = load_events(path, "duckdb", backend=duckdb_backend)
    windows = WindowConfig(activity_events=("login",))
    frame = feature_frame(loaded, CUTOFF, windows, labels=True).set_index("user_id")
    # Only u1's 03-31 login counts as activity in the last 30 days; purchases still count by amount.
    assert frame.loc["u1", "events_30d"] == 1
    assert frame.loc["u1", "events_90d"] == 1
    assert frame.loc["u1", "purchases_90d"] == 2
    # u2 only ever purchased: no activity at all, so no recency and no churn label; lapsed,
    # and its purchase after T is no activity either, so it has not returned.
    assert pd.isna(frame.loc["u2", "days_since_last_event"])
    assert pd.isna(frame.loc["u2", "churned"])
    assert frame.loc["u2", "returned"] == 0.0


def test_horizons_come_from_configuration(tmp_path, duckdb_backend):
    path = _write(tiny_events(), tmp_path, "csv")
    loaded = load_events(path, "duckdb", backend=duckdb_backend)
    windows = WindowConfig(churn_horizon_days=31, value_horizon_days=91, active_window_days=30)
    frame = feature_frame(loaded, CUTOFF, windows, labels=True).set_index("user_id")
    assert frame.loc["u5", "churned"] == 0.0  # its return at T+30d now falls inside the horizon
    assert frame.loc["u1", "future_value"] == 70.0  # the T+90d purchase now counts
    assert pd.isna(frame.loc["u4", "churned"])  # 46 days idle: not active in a 30-day window
    assert frame.loc["u4", "returned"] == 0.0  # ... so lapsed, and it never comes back
    assert frame.loc["u2", "returned"] == 1.0  # back at T+30d: inside a 31-day horizon
