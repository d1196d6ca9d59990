"""Drift and data health: has the population moved, and is today's data fit to act on?

Why together: both are read from the data at as-of alone, with no labels, so they can run every
day; realised quality (`monitoring.realised`) has to wait for a horizon to pass. Drift compares
features and scores with the champion's `ReferenceProfile` by PSI; data health checks the event
log itself (volume against its own recent past, freshness, rejected rows), which is what
`retain retrain` consults before it trusts the data enough to train on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from monitoring.config import MonitorThresholds
from monitoring.status import Check, Status, json_float
from training import ColumnProfile, ReferenceProfile, psi

ColumnKind = Literal["feature", "score"]
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class ColumnDrift:
    """PSI of one feature or score against its reference, graded; NaN PSI when unmeasurable."""

    feature: str
    kind: ColumnKind
    psi: float
    status: Status
    rows: int
    reference_missing_share: float
    current_missing_share: float | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "kind": self.kind,
            "psi": json_float(self.psi),
            "status": self.status,
            "rows": self.rows,
            "reference_missing_share": json_float(self.reference_missing_share),
            "current_missing_share": json_float(self.current_missing_share),
            "detail": self.detail,
        }


def column_drift(
    name: str,
    reference: ColumnProfile,
    values: Any,
    thresholds: MonitorThresholds,
    kind: ColumnKind = "feature",
) -> ColumnDrift:
    """PSI of `values` against `reference`, graded by `thresholds.psi`.

    No current rows is critical: an empty population cannot be trusted to look like anything.
    """
    shares, rows = reference.current_shares(values)
    missing = float(shares[-1]) if rows else None
    if rows == 0 or reference.count == 0:
        why = "no current rows" if rows == 0 else "the reference has no rows"
        return ColumnDrift(
            name, kind, float("nan"), "critical", rows, reference.missing_share, missing, why
        )
    value = psi([*reference.shares, reference.missing_share], shares)
    status = thresholds.psi.grade(value)
    level = thresholds.psi.critical if status == "critical" else thresholds.psi.warning
    detail = "" if status == "ok" else f"PSI {value:.3f} ≥ {level:g}"
    return ColumnDrift(name, kind, value, status, rows, reference.missing_share, missing, detail)


def drift_report(
    reference: ReferenceProfile,
    frame: pd.DataFrame,
    scores: Mapping[str, Any] | pd.DataFrame | None = None,
    thresholds: MonitorThresholds | None = None,
) -> list[ColumnDrift]:
    """Per profiled feature, then per profiled score that `scores` holds: PSI and status.

    A feature the reference profiled but the current frame lacks is critical (the model would
    not even get its input). Scores are optional: those not given are skipped, so features
    alone can be checked before anything is scored.
    """
    thresholds = thresholds or MonitorThresholds()
    results = []
    for name, profile in reference.features.items():
        if name not in frame.columns:
            absent = ColumnDrift(
                feature=name,
                kind="feature",
                psi=float("nan"),
                status="critical",
                rows=0,
                reference_missing_share=profile.missing_share,
                current_missing_share=None,
                detail="column missing from the current features",
            )
            results.append(absent)
            continue
        results.append(column_drift(name, profile, frame[name], thresholds))
    given: Mapping[str, Any] = {}
    if isinstance(scores, pd.DataFrame):
        given = {name: scores[name] for name in scores.columns}
    elif scores is not None:
        given = scores
    for name, profile in reference.scores.items():
        if name in given:
            results.append(column_drift(name, profile, given[name], thresholds, "score"))
    return results


def _naive_utc(moments: pd.Series) -> pd.Series:
    """Event times as naive UTC (the contract's convention), whatever zone they arrived in."""
    moments = pd.to_datetime(moments)
    if moments.dt.tz is not None:
        moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    return moments


def _moment(value: date | datetime | str) -> pd.Timestamp:
    moment = pd.Timestamp(value)
    return moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo else moment


def daily_event_counts(events: pd.DataFrame, as_of: date | datetime | str) -> pd.Series:
    """Events per 24-hour day before `as_of`, indexed by each day's start, oldest first.

    Days are counted back from as-of (for a midnight as-of they are calendar days in UTC), so
    a partial last day never looks like a collapse. Days without events between the first event
    and as-of are present with 0. Events at or after as-of are ignored, as features ignore them.
    """
    cutoff = _moment(as_of)
    times = _naive_utc(events["event_time"])
    times = times[times < cutoff]
    if times.empty:
        return pd.Series([], index=pd.DatetimeIndex([]), dtype="int64", name="events")
    days_back = ((cutoff - times) / _DAY).to_numpy(dtype=float)
    # Day k is [as-of − (k+1) days, as-of − k days), closed on the left as feature windows are:
    # an event exactly one day before a midnight as-of (a date-only log) is the last day's.
    counts = np.bincount(np.ceil(days_back).astype(np.int64) - 1)
    starts = pd.DatetimeIndex([cutoff - (k + 1) * _DAY for k in range(len(counts))])
    return pd.Series(counts, index=starts, name="events").iloc[::-1]


def volume_check(
    daily: pd.Series, as_of: date | datetime | str, thresholds: MonitorThresholds | None = None
) -> Check:
    """Mean events per day over the recent days against the trailing days before them.

    `daily` is indexed by day start (days missing from it count as 0, from its first day on), as
    `daily_event_counts` returns or an engine-side group-by would. Graded on the share of
    volume lost, 1 − recent / trailing; a rise is never flagged here (growth is not a data
    fault). The trailing average covers only days from the first recorded day on, so a young
    log is not compared with days before it existed; with no such day it is not judged.
    """
    thresholds = thresholds or MonitorThresholds()
    recent_days, trailing_days = thresholds.volume_recent_days, thresholds.volume_trailing_days
    cutoff = _moment(as_of)
    grid = pd.DatetimeIndex([cutoff - k * _DAY for k in range(recent_days + trailing_days, 0, -1)])
    if daily.empty:
        return Check("event_volume", 0.0, "critical", "no events before as-of")
    first = pd.DatetimeIndex(daily.index).min()
    counts = daily.groupby(pd.DatetimeIndex(daily.index)).sum().reindex(grid, fill_value=0)
    recent = counts.iloc[-recent_days:]
    trailing = counts.iloc[:-recent_days]
    trailing = trailing[trailing.index >= first]
    recent_mean = float(recent.mean())
    if trailing.empty or float(trailing.mean()) == 0:
        return Check("event_volume", recent_mean, "ok", "no trailing days to compare with yet")
    trailing_mean = float(trailing.mean())
    drop = max(0.0, 1.0 - recent_mean / trailing_mean)
    status = thresholds.volume_drop.grade(drop)
    detail = (
        f"{recent_mean:,.0f} events/day over the last {recent_days} days against "
        f"{trailing_mean:,.0f} over the {len(trailing)} before ({-drop:+.0%})"
        if drop
        else ""
    )
    return Check("event_volume", recent_mean, status, detail, reference=trailing_mean)


def freshness_check(
    last_event: date | datetime | str | None,
    as_of: date | datetime | str,
    thresholds: MonitorThresholds | None = None,
) -> Check:
    """Days from the last event before as-of to as-of; a stale export scores stale users."""
    thresholds = thresholds or MonitorThresholds()
    if last_event is None:
        return Check("freshness_days", None, "critical", "no events before as-of")
    days = float((_moment(as_of) - _moment(last_event)) / _DAY)
    status = thresholds.freshness_days.grade(max(days, 0.0))
    detail = f"last event {days:.1f} days before as-of" if status != "ok" else ""
    return Check("freshness_days", days, status, detail)


def rejected_check(
    rows_rejected: int, rows_read: int, thresholds: MonitorThresholds | None = None
) -> Check:
    """Share of read rows the event contract rejected (`LoadReport.rows_rejected / rows_read`)."""
    thresholds = thresholds or MonitorThresholds()
    if rows_read <= 0:
        return Check("rejected_share", None, "critical", "no rows were read")
    share = rows_rejected / rows_read
    status = thresholds.rejected_share.grade(share)
    detail = f"{rows_rejected:,} of {rows_read:,} rows rejected" if rows_rejected else ""
    return Check("rejected_share", share, status, detail)


def data_health(
    events: pd.DataFrame,
    as_of: date | datetime | str,
    *,
    rows_rejected: int = 0,
    rows_read: int | None = None,
    thresholds: MonitorThresholds | None = None,
) -> list[Check]:
    """Volume, freshness and rejected share of an event frame (`event_time` column) at as-of.

    `rows_read` defaults to the accepted rows plus `rows_rejected` (what loading reports).
    """
    thresholds = thresholds or MonitorThresholds()
    daily = daily_event_counts(events, as_of)
    times = _naive_utc(events["event_time"])
    before = times[times < _moment(as_of)]
    last = before.max() if not before.empty else None
    read = rows_read if rows_read is not None else len(events) + rows_rejected
    return [
        volume_check(daily, as_of, thresholds),
        freshness_check(last, as_of, thresholds),
        rejected_check(rows_rejected, read, thresholds),
    ]
