"""Data health counted in the engine: the same days, counts and verdicts as by hand."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from features import from_frame
from monitoring import MonitorThresholds, daily_counts_in_engine, daily_event_counts, event_health


def _events(times: list[str], rejected: int = 0) -> pd.DataFrame:
    rows = [
        {"user_id": f"u{i % 3}", "event_time": t, "event_type": "view"} for i, t in enumerate(times)
    ]
    rows += [{"user_id": "bad", "event_time": None, "event_type": "view"}] * rejected
    return pd.DataFrame(rows).assign(
        event_time=lambda f: pd.to_datetime(f["event_time"], format="ISO8601")
    )


def test_days_count_back_from_a_midnight_as_of() -> None:
    # 2024-03-01 00:00 as-of: the last day is Feb 29 (leap year); an event at the cutoff is
    # excluded, one a microsecond before it is the last day's.
    times = [
        "2024-02-20 08:00", "2024-02-27 10:00", "2024-02-27 23:59",
        "2024-02-29 23:59:59.999999", "2024-03-01 00:00",
    ]  # fmt: skip
    loaded = from_frame(_events(times))
    daily, first, last = daily_counts_in_engine(loaded, datetime(2024, 3, 1), days=5)
    expected = {  # the window's days, plus the first event's day before it (not counted: 0)
        pd.Timestamp("2024-02-20"): 0,
        pd.Timestamp("2024-02-27"): 2,
        pd.Timestamp("2024-02-29"): 1,
    }
    assert daily.to_dict() == expected
    assert first == datetime(2024, 2, 20, 8)
    assert last == pd.Timestamp("2024-02-29 23:59:59.999999")


def test_days_count_back_from_a_mid_day_as_of_like_the_pandas_version() -> None:
    times = ["2024-02-27 11:00", "2024-02-27 13:00", "2024-02-28 11:59", "2024-02-28 12:00"]
    as_of = datetime(2024, 2, 29, 12)
    daily, _, _ = daily_counts_in_engine(from_frame(_events(times)), as_of, days=5)
    # Days run noon to noon: [26 12:00, 27 12:00) holds one event, [27 12:00, 28 12:00) two…
    assert daily.to_dict() == {
        pd.Timestamp("2024-02-26 12:00"): 1,
        pd.Timestamp("2024-02-27 12:00"): 2,
        pd.Timestamp("2024-02-28 12:00"): 1,
    }
    by_pandas = daily_event_counts(_events(times), as_of)
    assert by_pandas[by_pandas > 0].to_dict() == daily.to_dict()


def test_a_volume_collapse_a_stale_log_and_rejected_rows_are_graded() -> None:
    # 20 events a day for 28 days, then 2 a day for the last 7: volume down 90% (critical).
    days = pd.date_range("2024-01-01", periods=35, freq="D")
    times = [str(day + pd.Timedelta(minutes=m)) for day in days[:28] for m in range(20)]
    times += [str(day + pd.Timedelta(minutes=m)) for day in days[28:] for m in range(2)]
    loaded = from_frame(_events(times, rejected=10))  # no event time: rejected
    as_of = datetime(2024, 2, 5)  # the day after the last day: fresh
    checks = {c.name: c for c in event_health(loaded, as_of, MonitorThresholds())}
    assert checks["event_volume"].value == pytest.approx(2.0)
    assert checks["event_volume"].reference == pytest.approx(20.0)
    assert checks["event_volume"].status == "critical"
    assert checks["freshness_days"].value == pytest.approx(1 - 1 / 1440)  # last event 00:01
    assert checks["freshness_days"].status == "ok"
    assert loaded.report.rows_read == 574 + 10
    assert checks["rejected_share"].value == pytest.approx(10 / 584)  # 1.7%: 1% ≤ it < 5%
    assert checks["rejected_share"].status == "warning"
