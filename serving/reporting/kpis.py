"""Weekly KPIs that user-operations teams run on, by lifecycle stage, by value tier and overall.

Why from the event log and the score file together: the KPIs (active rate, conversion,
repurchase rate, refund rate, average order value) are counted from events, week by week, but an
operator reads them per segment, and the segment is the one each user had at the scoring cutoff
(the score file's `lifecycle_stage` and `value_tier`). The population is therefore fixed: the
scored users. A user first seen after the cutoff has no segment; they are counted, not silently
dropped (`KpiTable.unscored_users`).

Definitions (weeks are the 7-day spans ending at the window's end, most recent last):
- active rate: users with an activity event in the week / the segment's users;
- conversion: users with a purchase in the week / the segment's users;
- repurchase rate: the week's buyers whose first purchase was before the week / the week's
  buyers;
- refund rate: money refunded in the week / purchase revenue in the week (a refund may belong to
  an earlier week's purchase, so a week can exceed 100%);
- average order value: purchase revenue / purchases.
A purchase is an event with a positive amount and a refund one with a negative amount, as for
the features (`purchases_90d`, DESIGN.md §3); activity is `activity_events` (default: every type).

The counts are one DuckDB query (Ibis) grouped by week, stage and tier; the roll-ups to stages,
tiers and overall are sums of those counts (each user has one stage and one tier), and the rates
are ratios of the sums, never averages of rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from features import LoadedEvents, as_naive_utc

WEEK = timedelta(days=7)
KPIS: dict[str, str] = {
    "active_rate": "Active rate",
    "conversion": "Conversion",
    "repurchase_rate": "Repurchase rate",
    "refund_rate": "Refund rate",
    "aov": "Average order value",
}
COUNTS = ("active_users", "buyers", "repeat_buyers", "purchases", "revenue", "refunded")
DIMENSIONS = {"overall": None, "stage": "lifecycle_stage", "tier": "value_tier"}
OVERALL = "all"


@dataclass(frozen=True)
class ReportWindow:
    """The weeks a report's KPIs and funnel cover: `weeks` spans of 7 days ending at `end`."""

    end: datetime
    weeks: int = 12

    def __post_init__(self) -> None:
        if self.weeks < 1:
            raise ValueError(f"a report window needs at least one week, not {self.weeks}")

    @property
    def start(self) -> datetime:
        return as_naive_utc(self.end) - self.weeks * WEEK

    def week_starts(self) -> list[pd.Timestamp]:
        """The first instant of each week, oldest first."""
        return [pd.Timestamp(self.start + i * WEEK) for i in range(self.weeks)]


@dataclass(frozen=True)
class KpiTable:
    """One row per (dimension, segment, week): the segment's users, counts and KPIs.

    `dimension` is `overall` (segment `all`), `stage` or `tier`; segments without users are
    absent. `unscored_users`: users with events in the window who are not in the score file.
    """

    table: pd.DataFrame
    window: ReportWindow
    unscored_users: int


def segments_of(scores: pd.DataFrame) -> pd.DataFrame:
    """Each scored user's stage and tier at the scoring cutoff (user ids compared as strings)."""
    return pd.DataFrame(
        {
            "user_id": scores["user_id"].astype(str).to_numpy(),
            "lifecycle_stage": scores["lifecycle_stage"].astype(str).to_numpy(),
            "value_tier": scores["value_tier"].astype(str).to_numpy(),
        }
    )


def _user_weeks(
    events: LoadedEvents, window: ReportWindow, activity: tuple[str, ...] | None
) -> ir.Table:
    """Per user and week (0 = oldest): active, bought, repeat buyer, purchases, money."""
    start, end = window.start, as_naive_utc(window.end)
    log = events.table
    seen = log.filter((log.event_time >= start) & (log.event_time < end))
    amount = seen.amount
    purchase = (amount > 0).fill_null(False)
    flagged = seen.mutate(
        week=((seen.event_time.epoch_seconds() - _epoch(start)) // WEEK.total_seconds()).cast(
            "int64"
        ),
        active=seen.event_type.isin(list(activity)) if activity else ibis.literal(True),
        purchase=purchase,
        revenue=ibis.ifelse(purchase, amount, 0.0),
        refunded=ibis.ifelse((amount < 0).fill_null(False), -amount, 0.0),
    )
    per_user = flagged.group_by(["user_id", "week"]).aggregate(
        active=flagged.active.any(),
        bought=flagged.purchase.any(),
        purchases=flagged.purchase.cast("int64").sum(),
        revenue=flagged.revenue.sum(),
        refunded=flagged.refunded.sum(),
    )
    buyers = log.filter((log.amount > 0) & (log.event_time < end))
    first = buyers.group_by("user_id").aggregate(first_purchase=buyers.event_time.min())
    joined = per_user.left_join(first, per_user.user_id == first.user_id)
    week_start = _epoch(start) + joined.week * WEEK.total_seconds()
    earlier = (joined.first_purchase.epoch_seconds() < week_start).fill_null(False)
    return joined.select(
        "user_id", "week", "active", "bought", "purchases", "revenue", "refunded",
        repeat=joined.bought & earlier,
    )  # fmt: skip


def _epoch(moment: datetime) -> float:
    return (pd.Timestamp(moment) - pd.Timestamp(0)).total_seconds()


def weekly_kpis(
    events: LoadedEvents,
    scores: pd.DataFrame,
    window: ReportWindow,
    activity_events: tuple[str, ...] | None = None,
) -> KpiTable:
    """The KPIs per week for every stage, tier and overall (see the module's definitions)."""
    segments = segments_of(scores)
    user_weeks = _user_weeks(events, window, activity_events)
    segment_table = ibis.memtable(segments)
    scored = user_weeks.join(segment_table, "user_id")
    counts = scored.group_by(["week", "lifecycle_stage", "value_tier"]).aggregate(
        active_users=scored.active.cast("int64").sum(),
        buyers=scored.bought.cast("int64").sum(),
        repeat_buyers=scored.repeat.cast("int64").sum(),
        purchases=scored.purchases.sum(),
        revenue=scored.revenue.sum(),
        refunded=scored.refunded.sum(),
    )
    outside = user_weeks.anti_join(segment_table, "user_id").user_id.nunique()
    frame = events.backend.execute(counts)
    unscored = int(events.backend.execute(outside) or 0)
    return KpiTable(_roll_up(frame, segments, window), window, unscored)


def segment_key(frame: pd.DataFrame, column: str | None) -> pd.Series:
    """Each row's segment in one dimension: the stage or tier column, or `all` overall."""
    if column is None:
        return pd.Series(OVERALL, index=frame.index, dtype=object)
    return frame[column]


def _roll_up(counts: pd.DataFrame, segments: pd.DataFrame, window: ReportWindow) -> pd.DataFrame:
    """Counts by (week, stage, tier) summed to each dimension's segments, with the KPIs."""
    starts = window.week_starts()
    parts = []
    for dimension, column in DIMENSIONS.items():
        sizes = segment_key(segments, column).value_counts()
        by = segment_key(counts, column).rename("segment")
        summed = counts[list(COUNTS)].groupby([counts["week"], by]).sum()
        grid = pd.MultiIndex.from_product(
            [range(window.weeks), sorted(sizes.index)], names=["week", "segment"]
        )
        part = summed.reindex(grid, fill_value=0).reset_index()
        part.insert(0, "dimension", dimension)
        part.insert(3, "week_start", [starts[int(w)] for w in part["week"]])
        part.insert(4, "users", part["segment"].map(sizes).astype("int64"))
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table = table.astype({c: "int64" for c in COUNTS if c not in ("revenue", "refunded")})
    return table.assign(**kpi_columns(table))


def kpi_columns(counts: pd.DataFrame) -> dict[str, pd.Series]:
    """The five KPIs from summed counts; NaN where the denominator is zero (no buyer, no sale)."""

    def ratio(numerator: str, denominator: str) -> pd.Series:
        bottom = counts[denominator].astype(float)
        return counts[numerator].astype(float) / bottom.where(bottom > 0, np.nan)

    return {
        "active_rate": ratio("active_users", "users"),
        "conversion": ratio("buyers", "users"),
        "repurchase_rate": ratio("repeat_buyers", "buyers"),
        "refund_rate": ratio("refunded", "revenue"),
        "aov": ratio("revenue", "purchases"),
    }
