"""Nothing computed for cutoff T may change when events at or after T are added (DESIGN.md §3)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pandas.testing as pdt

from features import FEATURE_SET, WindowConfig, feature_frame, from_frame
from features.engines import connect
from tests.features.tiny_log import CUTOFF, tiny_events


def _random_log(seed: int, n: int, start: pd.Timestamp, days: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.choice([f"u{i}" for i in range(60)], n),
            "event_time": start + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s"),
            "event_type": rng.choice(["login", "view", "purchase", "refund"], n),
            "amount": np.round(rng.normal(5, 20, n), 2),
        }
    )


def test_events_at_or_after_the_cutoff_change_no_feature():
    backend = connect("duckdb")
    cutoff = pd.Timestamp(CUTOFF)
    history = _random_log(1, 3000, cutoff - pd.Timedelta(days=200), 200)
    history = history[history["event_time"] < cutoff]
    # Appended: events exactly at T, just after it, and for new and known users alike.
    future = _random_log(2, 2000, cutoff, 120)
    future.loc[:10, "event_time"] = cutoff
    future.loc[11:20, "user_id"] = [f"new{i}" for i in range(10)]
    windows = WindowConfig()
    before = feature_frame(from_frame(history, backend=backend), CUTOFF, windows)
    after = feature_frame(
        from_frame(pd.concat([history, future], ignore_index=True), backend=backend),
        CUTOFF,
        windows,
    )
    assert len(before) > 0
    pdt.assert_frame_equal(before, after)


def test_the_tiny_log_features_ignore_the_cutoff_instant():
    events = tiny_events()
    backend = connect("duckdb")
    windows = WindowConfig()
    full = feature_frame(from_frame(events, backend=backend), CUTOFF, windows)
    # Moving the at-T event one microsecond earlier makes it count: the boundary is exclusive.
    shifted = events.copy()
    at_cutoff = shifted["event_time"] == "2024-04-01 00:00:00"
    shifted.loc[at_cutoff, "event_time"] = str(CUTOFF - timedelta(microseconds=1))
    moved = feature_frame(from_frame(shifted, backend=backend), CUTOFF, windows)
    u1_full = full.set_index("user_id").loc["u1"]
    u1_moved = moved.set_index("user_id").loc["u1"]
    assert u1_moved["events_7d"] == u1_full["events_7d"] + 1
    assert u1_moved["days_since_last_event"] < 1e-6


def test_feature_set_is_declared_and_complete():
    frame = feature_frame(from_frame(tiny_events()), CUTOFF, WindowConfig())
    assert FEATURE_SET.id == "behavioural_v1"
    assert set(FEATURE_SET.columns) <= set(frame.columns)
    assert len(set(FEATURE_SET.columns)) == len(FEATURE_SET.columns)
