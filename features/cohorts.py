"""Cohort retention: of the users acquired in a month, what share is active k months later.

Why here, in Ibis: the report, the exploration notebook and operators all ask the same
question of the same event log, so it is answered once, on the same engine as the features
(DuckDB or Spark), from the clean event table. A user's cohort is the calendar month of their
first activity event; they count as retained in month k when they have an activity event in
the k-th calendar month after it (month 0 is the acquisition month, so its retention is 1).
Only months that have fully ended before `as_of` (default: the end of the data) are reported,
so the last point of a curve is never a half-observed month.
"""

from __future__ import annotations

from datetime import datetime

import ibis.expr.types as ir
import pandas as pd

from features import contract as c
from features.config import WindowConfig
from features.loading import LoadedEvents

COLUMNS = ("cohort", "months_since", "cohort_users", "active_users", "retention")


def _month_index(moment: ir.TimestampValue) -> ir.IntegerValue:
    return moment.year() * 12 + moment.month() - 1


def _month_start(index: int) -> datetime:
    return datetime(index // 12, index % 12 + 1, 1)


def cohort_retention(
    events: LoadedEvents, windows: WindowConfig | None = None, as_of: datetime | None = None
) -> pd.DataFrame:
    """One row per (acquisition month, months since acquisition) with the retained share.

    `windows.activity_events` decides which event types count as activity (default: all).
    `as_of` cuts the log: events at or after it are ignored, months not over by then dropped.
    """
    windows = windows or WindowConfig()
    table = events.table
    end = as_of or events.report.max_event_time
    if end is None:
        raise c.EventContractError(f"{events.report.summary()}: no valid events for cohorts")
    if as_of is not None:
        table = table.filter(table[c.EVENT_TIME] < as_of)
    if windows.activity_events:
        table = table.filter(table[c.EVENT_TYPE].isin(list(windows.activity_events)))
    months = table.select(
        user_id=table[c.USER_ID], month=_month_index(table[c.EVENT_TIME])
    ).distinct()
    first = months.group_by("user_id").aggregate(cohort=months.month.min())
    joined = months.join(first, "user_id")
    active = joined.group_by(
        ["cohort", (joined.month - joined.cohort).name("months_since")]
    ).aggregate(active_users=joined.user_id.nunique())
    sizes = first.group_by("cohort").aggregate(cohort_users=first.user_id.count())
    frame = events.backend.execute(active.join(sizes, "cohort"))
    # The month holding `end` is not over (or, at midnight on the 1st, not begun): the last
    # complete month is the one before it.
    last_complete = end.year * 12 + end.month - 2
    frame = frame[frame["cohort"] + frame["months_since"] <= last_complete]
    frame = frame.assign(
        retention=frame["active_users"] / frame["cohort_users"],
        cohort=[_month_start(int(i)) for i in frame["cohort"]],
    )
    frame = frame.astype(
        {"months_since": "int64", "cohort_users": "int64", "active_users": "int64"}
    )
    return frame.sort_values(["cohort", "months_since"]).reset_index(drop=True)[list(COLUMNS)]


def retention_matrix(retention: pd.DataFrame) -> pd.DataFrame:
    """The classic triangle: cohorts as rows, months since acquisition as columns."""
    matrix = retention.pivot(index="cohort", columns="months_since", values="retention")
    return matrix.sort_index().rename_axis(index="cohort", columns="months since acquisition")
