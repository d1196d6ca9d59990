"""Labels from the window after the cutoff (DESIGN.md §3), kept apart from features on purpose.

Features read only `[.., T)`; labels read only `[T, T + horizon)`. Keeping them in separate
expressions makes that boundary visible, and lets serving build features without labels.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from features import contract as c
from features.config import WindowConfig
from features.definitions import ACTIVE_FLAG, as_naive_utc

LABEL_COLUMNS: tuple[str, ...] = ("churned", "future_value", "returned")


def labels_unseen(as_of: datetime, last_event: datetime, windows: WindowConfig) -> str | None:
    """Why labels at `as_of` would be wrong (their horizon ends after the last event), or None.

    Why a check and not a clipped horizon: a user with no event in days the log does not cover
    looks churned and spends nothing there, so labels at a late cutoff are quietly wrong: too
    much churn, too little value. Training schedules only cutoffs that pass this; the commands
    that take a cutoff from the user (`retain features --labels`, `retain evaluate`) refuse it.
    """
    horizon = windows.label_horizon_days
    end = as_naive_utc(as_of) + timedelta(days=horizon)
    if end <= as_naive_utc(last_event):
        return None
    return (
        f"labels at {as_of:%Y-%m-%d} need the {horizon} days after it, which end after the last "
        f"event ({last_event:%Y-%m-%d}): what happened after it is not fully seen"
    )


def build_outcomes(events: ir.Table, as_of: datetime, windows: WindowConfig) -> ir.Table:
    """Per user with any event after the cutoff: future activity count and future spend."""
    cutoff = as_naive_utc(as_of)

    def at(days: int) -> ir.TimestampScalar:
        return ibis.literal(cutoff + timedelta(days=days), type=dt.Timestamp())

    ts = events[c.EVENT_TIME]
    start = ibis.literal(cutoff, type=dt.Timestamp())
    future = events.filter((ts >= start) & (ts < at(windows.label_horizon_days)))
    activity = (
        future[c.EVENT_TYPE].isin(list(windows.activity_events))
        if windows.activity_events
        else ibis.literal(True)
    )
    fts = future[c.EVENT_TIME]
    return future.group_by(c.USER_ID).aggregate(
        _future_activity=future[c.USER_ID].count(
            where=activity & (fts < at(windows.churn_horizon_days))
        ),
        _future_value=future[c.AMOUNT].sum(where=fts < at(windows.value_horizon_days)),
    )


def attach_labels(features: ir.Table, outcomes: ir.Table) -> ir.Table:
    """Add `churned`, `future_value` and `returned` (DESIGN.md §3).

    `churned` exists for users active at the cutoff and `returned` for the others (lapsed), so
    every row carries exactly one of the two: both read the same activity count over the churn
    horizon, which makes "lost" (churned, or lapsed and not back) one outcome for the value
    model. Both are plain Ibis expressions, so DuckDB and Spark compute them identically.
    """
    joined = features.left_join(outcomes, c.USER_ID, rname="{name}_outcome")
    activity = joined._future_activity.fill_null(0)
    active = joined[ACTIVE_FLAG] == 1
    churned = ibis.ifelse(active, (activity == 0).cast("float64"), ibis.null("float64"))
    returned = ibis.ifelse(active, ibis.null("float64"), (activity > 0).cast("float64"))
    future_value = joined._future_value.fill_null(0.0).cast("float64")
    keep = [col for col in features.columns]
    return joined.select(*keep, churned=churned, future_value=future_value, returned=returned)
