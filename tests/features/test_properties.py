"""Property-based checks of the feature set over random event logs (hypothesis).

The invariants hold for any log, so hypothesis generates logs (users, times around the cutoff,
event types, amounts incl. refunds and duplicates) and checks them all:
- counts are non-negative and windows are nested: events_7d ≤ events_30d ≤ events_90d ≤
  events_total, active_days_30d ≤ active_days_90d ≤ 90, purchases_90d ≤ purchases_total;
- recency is within the observed history: 0 ≤ days_since_last_event ≤ days_since_first_event;
- shares are in [0, 1]; every user with an event before the cutoff has exactly one row;
- no leakage: removing every event at or after the cutoff changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import WindowConfig, feature_frame, from_frame
from features.engines import connect

CUTOFF = datetime(2024, 6, 1)
EVENT_TYPES = ("login", "view", "purchase", "refund")


@st.composite
def event_logs(draw: st.DrawFn) -> pd.DataFrame:
    users = draw(st.integers(1, 6))
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, users - 1),
                st.integers(-200 * 24 * 60, 40 * 24 * 60),  # minutes around the cutoff
                st.sampled_from(EVENT_TYPES),
                st.one_of(
                    st.none(), st.floats(-500, 5000, allow_nan=False).map(lambda x: round(x, 2))
                ),
            ),
            min_size=1,
            max_size=40,
        )
    )
    rows += draw(st.lists(st.sampled_from(rows), max_size=5))  # exact duplicates happen
    return pd.DataFrame(
        {
            "user_id": [f"u{u}" for u, *_ in rows],
            "event_time": [CUTOFF + timedelta(minutes=m) for _, m, *_ in rows],
            "event_type": [t for *_, t, _ in rows],
            "amount": pd.Series([a for *_, a in rows], dtype="float64"),
        }
    )


@pytest.fixture(scope="module")
def backend():
    return connect("duckdb")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=event_logs())
def test_feature_invariants_hold_for_any_log(log: pd.DataFrame, backend) -> None:
    windows = WindowConfig()
    frame = feature_frame(from_frame(log, backend=backend), CUTOFF, windows).set_index("user_id")
    past = log[log["event_time"] < CUTOFF]
    assert sorted(frame.index) == sorted(past["user_id"].unique())
    counts = ["events_7d", "events_30d", "events_90d", "events_total", "active_days_30d",
              "active_days_90d", "purchases_90d", "purchases_total", "refunds_90d"]  # fmt: skip
    assert (frame[counts].fillna(0) >= 0).all().all()
    assert (frame.events_7d <= frame.events_30d).all()
    assert (frame.events_30d <= frame.events_90d).all()
    assert (frame.events_90d <= frame.events_total).all()
    assert (frame.active_days_30d <= frame.active_days_90d).all()
    assert (frame.active_days_90d <= 90).all()
    assert (frame.purchases_90d <= frame.purchases_total).all()
    seen = frame.dropna(subset=["days_since_last_event"])
    assert (seen.days_since_last_event >= 0).all()
    assert (seen.days_since_last_event <= seen.days_since_first_event + 1e-9).all()
    for share in ("weekend_share_90d", "night_share_90d", "purchase_rate_90d"):
        values = frame[share].dropna()
        assert ((values >= 0) & (values <= 1)).all(), share
    if past.empty:
        return  # nothing before the cutoff: no rows (checked above), nothing to compare
    without_future = feature_frame(from_frame(past, backend=backend), CUTOFF, windows)
    pdt.assert_frame_equal(
        frame.reset_index().sort_values("user_id").reset_index(drop=True),
        without_future.sort_values("user_id").reset_index(drop=True),
        check_like=True,
    )
