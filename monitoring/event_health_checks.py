"""Data health of a loaded event log, counted in its engine (DuckDB or Spark), not in pandas.

Why beside `monitoring.drift.data_health` (which takes a pandas frame of events): a production
log has hundreds of millions of events; only the per-day counts of the last few weeks and two
timestamps need to leave the engine. The checks themselves (`volume_check`, `freshness_check`,
`rejected_check`) are the same functions, so both paths grade alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from features import LoadedEvents, as_naive_utc
from monitoring.config import MonitorThresholds
from monitoring.drift import freshness_check, rejected_check, volume_check
from monitoring.status import Check


def daily_counts_in_engine(
    events: LoadedEvents, as_of: datetime, days: int
) -> tuple[pd.Series, datetime | None, datetime | None]:
    """Events per 24-hour day over the `days` before as-of, and the first and last event before it.

    Days are counted back from as-of, as `monitoring.drift.daily_event_counts` counts them: the
    events are shifted by as-of's time of day and truncated to dates in the engine. The day of
    the first event is added with its count (0 when it lies before the window), so that
    `volume_check` knows how young the log is.
    """
    cutoff = as_naive_utc(as_of)
    offset = cutoff - datetime.combine(cutoff.date(), datetime.min.time())
    table = events.table
    time = table["event_time"]
    before = table.filter(time < ibis.literal(cutoff, type=dt.Timestamp()))
    span = before.aggregate(first=before["event_time"].min(), last=before["event_time"].max())
    first, last = span.execute().iloc[0]
    if pd.isna(first):
        return pd.Series([], index=pd.DatetimeIndex([]), dtype="int64", name="events"), None, None
    start = ibis.literal(cutoff - timedelta(days=days), type=dt.Timestamp())
    recent = before.filter(before["event_time"] >= start)
    shifted = recent["event_time"] - ibis.interval(seconds=int(offset.total_seconds()))
    grouped = recent.group_by(day=shifted.truncate("D")).aggregate(events=recent.count())
    counts = grouped.execute()
    index = pd.DatetimeIndex(pd.to_datetime(counts["day"])) + offset
    daily = pd.Series(counts["events"].to_numpy(dtype="int64"), index=index, name="events")
    first_day = pd.Timestamp(first).floor("D") + offset
    if first_day > pd.Timestamp(first):
        first_day -= pd.Timedelta(days=1)
    if first_day not in daily.index:
        daily.loc[first_day] = 0
    return daily.sort_index(), pd.Timestamp(first).to_pydatetime(), pd.Timestamp(last)


def event_health(
    events: LoadedEvents, as_of: datetime, thresholds: MonitorThresholds | None = None
) -> list[Check]:
    """Volume against its trailing average, freshness and rejected share at as-of."""
    thresholds = thresholds or MonitorThresholds()
    window = thresholds.volume_recent_days + thresholds.volume_trailing_days
    daily, _, last = daily_counts_in_engine(events, as_of, window)
    report = events.report
    return [
        volume_check(daily, as_of, thresholds),
        freshness_check(last, as_of, thresholds),
        rejected_check(report.rows_rejected, report.rows_read, thresholds),
    ]
