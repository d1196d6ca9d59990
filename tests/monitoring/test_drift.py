"""Drift against a reference profile, and the data-health checks, on hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitoring import (
    MonitorThresholds,
    ReferenceProfile,
    daily_event_counts,
    data_health,
    drift_report,
    freshness_check,
    rejected_check,
    volume_check,
)

AS_OF = pd.Timestamp("2024-03-01")


def _features(rng: np.random.Generator, n: int = 4_000, spend: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "events_30d": rng.poisson(5, n).astype(float),
            "revenue_90d": rng.gamma(2, 20, n) * spend,
            "days_since_last_event": rng.exponential(10, n),
        }
    )


def test_a_shifted_feature_is_flagged_and_the_others_are_not() -> None:
    rng = np.random.default_rng(11)
    reference = ReferenceProfile.build(_features(rng), {"churn_probability": rng.beta(2, 5, 4_000)})
    current = _features(rng, spend=2.0)  # spend doubled, everything else redrawn alike
    results = {r.feature: r for r in drift_report(reference, current)}
    assert results["revenue_90d"].status == "critical"
    assert results["revenue_90d"].psi > 0.25
    for name in ("events_30d", "days_since_last_event"):
        assert results[name].status == "ok", results[name]
        assert results[name].psi < 0.1
    assert all(r.kind == "feature" for r in results.values())  # scores not given: skipped


def test_identical_features_and_scores_drift_zero() -> None:
    rng = np.random.default_rng(2)
    frame = _features(rng)
    scores = {"churn_probability": rng.beta(2, 5, len(frame))}
    reference = ReferenceProfile.build(frame, scores)
    results = drift_report(reference, frame, scores)
    assert [r.psi for r in results] == [0.0] * 4
    assert results[-1].kind == "score" and results[-1].feature == "churn_probability"
    assert {r.status for r in results} == {"ok"}


def test_a_missing_feature_column_or_no_rows_is_critical() -> None:
    rng = np.random.default_rng(2)
    frame = _features(rng)
    reference = ReferenceProfile.build(frame)
    results = {r.feature: r for r in drift_report(reference, frame.drop(columns="events_30d"))}
    assert results["events_30d"].status == "critical"
    assert math.isnan(results["events_30d"].psi)
    assert results["events_30d"].as_dict()["psi"] is None
    empty = drift_report(reference, frame.iloc[:0])
    assert {r.status for r in empty} == {"critical"}


def test_thresholds_decide_the_grade() -> None:
    rng = np.random.default_rng(4)
    frame = _features(rng)
    reference = ReferenceProfile.build(frame, columns=["revenue_90d"])
    shifted = frame.assign(revenue_90d=frame["revenue_90d"] * 1.4)
    (default,) = drift_report(reference, shifted)
    assert 0.1 <= default.psi < 0.25 and default.status == "warning", default
    lenient = MonitorThresholds.model_validate({"psi": {"warning": 5.0, "critical": 9.0}})
    assert drift_report(reference, shifted, thresholds=lenient)[0].status == "ok"
    strict = MonitorThresholds.model_validate({"psi": {"warning": 0.01, "critical": 0.05}})
    assert drift_report(reference, shifted, thresholds=strict)[0].status == "critical"


def _events(per_day: dict[int, int]) -> pd.DataFrame:
    """`per_day[k]` events on the k-th day before AS_OF (k = 1 is the day just before)."""
    times = [
        AS_OF - pd.Timedelta(days=k) + pd.Timedelta(hours=12)
        for k, n in per_day.items()
        for _ in range(n)
    ]
    return pd.DataFrame({"user_id": "u", "event_time": times})


def test_daily_counts_fill_quiet_days_and_ignore_the_future() -> None:
    events = _events({1: 2, 3: 1})
    events.loc[len(events)] = ["u", AS_OF + pd.Timedelta(hours=1)]  # after as-of: ignored
    daily = daily_event_counts(events, AS_OF)
    assert list(daily.index) == [AS_OF - pd.Timedelta(days=k) for k in (3, 2, 1)]
    assert list(daily) == [1, 0, 2]


def test_a_date_only_log_counts_each_date_on_its_own_day() -> None:
    # Events stamped at midnight (a day-granular export): the one at AS_OF − 1 day belongs to
    # the last day [AS_OF − 1 day, AS_OF), as `events_7d`'s window [T − 7d, T) counts it.
    times = [AS_OF - pd.Timedelta(days=1)] * 3 + [AS_OF - pd.Timedelta(days=2)]
    daily = daily_event_counts(pd.DataFrame({"user_id": "u", "event_time": times}), AS_OF)
    assert daily.to_dict() == {AS_OF - pd.Timedelta(days=2): 1, AS_OF - pd.Timedelta(days=1): 3}


@pytest.mark.parametrize(("recent", "status"), [(90, "ok"), (40, "warning"), (10, "critical")])
def test_volume_drop_against_the_trailing_average(recent: int, status: str) -> None:
    # 28 trailing days of 100 events, then 7 recent days of `recent`: drop = 1 − recent / 100.
    events = _events({k: (recent if k <= 7 else 100) for k in range(1, 36)})
    check = volume_check(daily_event_counts(events, AS_OF), AS_OF)
    assert check.value == recent
    assert check.reference == 100
    assert check.status == status


def test_volume_of_a_young_log_uses_only_the_days_it_has() -> None:
    # Ten days of history: three trailing days at 100, seven recent days at 100. No drop.
    events = _events(dict.fromkeys(range(1, 11), 100))
    check = volume_check(daily_event_counts(events, AS_OF), AS_OF)
    assert check.reference == 100 and check.status == "ok"


def test_freshness_and_rejected_share() -> None:
    assert freshness_check(AS_OF - pd.Timedelta(hours=12), AS_OF).status == "ok"
    stale = freshness_check(AS_OF - pd.Timedelta(days=3), AS_OF)
    assert (stale.value, stale.status) == (3.0, "warning")
    assert freshness_check(AS_OF - pd.Timedelta(days=10), AS_OF).status == "critical"
    assert freshness_check(None, AS_OF).status == "critical"
    assert rejected_check(0, 1_000).status == "ok"
    assert rejected_check(20, 1_000).value == pytest.approx(0.02)
    assert rejected_check(20, 1_000).status == "warning"
    assert rejected_check(60, 1_000).status == "critical"
    assert rejected_check(0, 0).status == "critical"


def test_data_health_from_an_event_frame() -> None:
    events = _events(dict.fromkeys(range(1, 36), 10))
    checks = {c.name: c for c in data_health(events, AS_OF, rows_rejected=1)}
    assert checks["event_volume"].status == "ok"
    assert checks["freshness_days"].value == pytest.approx(0.5)
    assert checks["rejected_share"].value == pytest.approx(1 / 351)


def test_zoned_event_times_are_read_as_utc() -> None:
    zoned = _events({1: 1}).assign(
        event_time=lambda f: f["event_time"].dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo")
    )
    assert list(daily_event_counts(zoned, AS_OF)) == [1]
