"""The behavioural feature set, declared once in Ibis and run on any engine.

Every feature is computed as of a cutoff T from events strictly before T: the event table is
filtered on `event_time < T` before anything else, so events at or after T cannot leak in.
Windows are half-open, `[T - d, T)`, compared on exact timestamps (no float rounding).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from features import contract as c
from features.config import WindowConfig
from features.contract import as_naive_utc

_DAY_SECONDS = 86_400
_DAY_MICROSECONDS = 86_400_000_000.0


@dataclass(frozen=True)
class FeatureSet:
    """A named, versioned list of model inputs; models record its id and serving checks it."""

    name: str
    version: str
    columns: tuple[str, ...]
    # What else a build needs to be repeated exactly at scoring: the event types whose
    # per-type columns the set has (behavioural_v2; empty there means "choose at the cutoff").
    event_types: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.name}_{self.version}"


CORE_FEATURES: tuple[str, ...] = (
    "days_since_last_event",
    "days_since_first_event",
    "events_7d",
    "events_30d",
    "events_90d",
    "active_days_30d",
    "purchases_90d",
    "revenue_90d",
    "revenue_total",
)

FEATURE_SET = FeatureSet(
    name="behavioural",
    version="v1",
    columns=(
        *CORE_FEATURES,
        "events_total",
        "events_prev_30d",
        "activity_change_30d",
        "active_days_90d",
        "revenue_30d",
        "revenue_prev_30d",
        "revenue_change_30d",
        "purchases_total",
        "days_since_last_purchase",
        "avg_purchase_value",
        "refunds_90d",
        "refund_amount_total",
        "mean_gap_days",
        "events_per_active_day_30d",
        "distinct_event_types_90d",
        "purchase_rate_90d",
        "weekend_share_90d",
        "night_share_90d",
        "reactivated_30d",
    ),
)

# Not model inputs, but carried with every feature row: who, when, and whether the user is
# active at the cutoff (which decides whether a churn label exists).
KEY_COLUMNS: tuple[str, ...] = (c.USER_ID, "as_of")
ACTIVE_FLAG = "active_at_cutoff"


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the epoch for a naive-UTC moment."""
    return moment.replace(tzinfo=UTC).timestamp()


def _ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """numerator / denominator, null where the denominator is zero (undefined, not zero)."""
    return ibis.ifelse(
        denominator > 0, numerator / denominator.cast("float64"), ibis.null("float64")
    )


# Both engines (and most SQL engines) have these two functions under these names; Ibis has no
# portable op for them, so they are declared as builtins: the SQL calls them by name.
@ibis.udf.agg.builtin(name="bit_or")
def _bit_or(bits: dt.int64) -> dt.int64:  # type: ignore[empty-body]
    """Bitwise OR of a column: the set union of the days each row marks."""


@ibis.udf.scalar.builtin(name="bit_count")
def _bit_count(mask: dt.int64) -> dt.int64:  # type: ignore[empty-body]
    """Number of set bits: the size of the set a mask stands for."""


_BITS_PER_MASK = 62  # bits 0..61: the highest, 2**61, stays clear of a 64-bit sign bit
_TOP_BIT = 2**61


def _distinct_days(
    day_offset: ir.IntegerValue, where: ir.BooleanValue, days: int, name: str
) -> tuple[dict[str, ir.Scalar], Callable[[ir.Table], ir.IntegerValue]]:
    """Distinct calendar days matching `where` in `[T - days, T)`, as bitmasks (see below).

    Why not `day.nunique()`: a filtered distinct count makes DuckDB build a separate hash table
    per (user, day) and join it back, which cost about as much as all the other aggregates
    together. A day in the window is `day_offset` = 0..days calendar days before T's date, so
    each row sets one bit, the user's masks are the OR of those bits, and the count is the
    number of set bits (exact: tests/features/test_fast_paths.py checks it against pandas).
    Returns the aggregates to add and how to read the count from the aggregated table.
    """
    masks: dict[str, ir.Scalar] = {}
    for chunk in range((days + _BITS_PER_MASK) // _BITS_PER_MASK):  # offsets 0..days
        low, high = chunk * _BITS_PER_MASK, (chunk + 1) * _BITS_PER_MASK
        conditions = [where]
        if low > 0:
            conditions.append(day_offset >= low)
        if high <= days:
            conditions.append(day_offset < high)
        # Bit (offset - low), written as a right shift of one 64-bit literal so no engine needs
        # a wider type. Rows outside the chunk shift by a meaningless amount (no engine raises
        # on that; DuckDB yields 0) and the filter drops them anyway.
        bit = ibis.literal(_TOP_BIT, "int64") >> (_BITS_PER_MASK - 1 + low - day_offset)
        masks[f"_{name}_mask{chunk}"] = _bit_or(
            bit, where=functools.reduce(operator.and_, conditions)
        )

    def count(aggregated: ir.Table) -> ir.IntegerValue:
        counts = [_bit_count(aggregated[m]).fill_null(0) for m in masks]
        return functools.reduce(operator.add, counts).cast("int64")

    return masks, count


def build_features(events: ir.Table, as_of: datetime, windows: WindowConfig) -> ir.Table:
    """One row per user seen before `as_of` with every feature of FEATURE_SET, as of `as_of`.

    One pass of per-user aggregates over the events before T, then row-wise arithmetic on the
    (far fewer) user rows: timestamps are aggregated first and turned into day counts after.
    """
    cutoff = as_naive_utc(as_of)
    t_cutoff = ibis.literal(cutoff, type=dt.Timestamp())

    def since(days: int) -> ir.TimestampScalar:
        return ibis.literal(cutoff - timedelta(days=days), type=dt.Timestamp())

    def days_before_cutoff(moment: ir.TimestampValue) -> ir.FloatingValue:
        return t_cutoff.delta(moment, unit="microsecond") / _DAY_MICROSECONDS

    past = events.filter(events[c.EVENT_TIME] < t_cutoff)
    ts = past[c.EVENT_TIME]
    activity_type = (
        past[c.EVENT_TYPE].isin(list(windows.activity_events)) if windows.activity_events else None
    )

    def activity(*conditions: ir.BooleanValue) -> ir.BooleanValue | None:
        """Activity events meeting all `conditions` (None, not TRUE, when that is every row:
        an aggregate without a filter is cheaper than one filtered on a constant)."""
        terms = [t for t in (activity_type, *conditions) if t is not None]
        return functools.reduce(operator.and_, terms) if terms else None

    amount = past[c.AMOUNT]
    w7, w30, w60, w90 = (ts >= since(7), ts >= since(30), ts >= since(60), ts >= since(90))
    dormant_span = (ts >= since(30 + windows.active_window_days)) & ~w30
    count = past.count
    # Calendar (UTC) day numbers from epoch seconds: cheaper per row than casting to a date.
    day_offset = int(epoch_seconds(cutoff) // _DAY_SECONDS) - ts.epoch_seconds() // _DAY_SECONDS
    days_30, active_days_30d = _distinct_days(day_offset, activity(w30), 30, "days30")
    days_90, active_days_90d = _distinct_days(day_offset, activity(w90), 90, "days90")

    totals = past.group_by(c.USER_ID).aggregate(
        _last_act=ts.max(where=activity()),
        _first_act=ts.min(where=activity()),
        _first=ts.min(),
        _last_purchase=ts.max(where=amount > 0),
        _purchase_value=amount.sum(where=amount > 0),
        events_total=count(where=activity()),
        events_7d=count(where=activity(w7)),
        events_30d=count(where=activity(w30)),
        events_90d=count(where=activity(w90)),
        events_prev_30d=count(where=activity(w60 & ~w30)),
        purchases_90d=count(where=(amount > 0) & w90),
        purchases_total=count(where=amount > 0),
        revenue_30d=amount.sum(where=w30),
        revenue_prev_30d=amount.sum(where=w60 & ~w30),
        revenue_90d=amount.sum(where=w90),
        revenue_total=amount.sum(),
        refunds_90d=count(where=(amount < 0) & w90),
        refund_amount_total=(-amount).sum(where=amount < 0),
        distinct_event_types_90d=past[c.EVENT_TYPE].nunique(where=w90),
        _weekend_90d=count(where=activity(w90 & (ts.day_of_week.index() >= 5))),
        _night_90d=count(where=activity(w90 & (ts.hour() < 6))),
        _dormant_span=count(where=activity(dormant_span)),
        **days_30,
        **days_90,
    )
    zero = ibis.literal(0.0)
    f = totals.mutate(
        active_days_30d=active_days_30d(totals), active_days_90d=active_days_90d(totals)
    )
    rev_prev = f.revenue_prev_30d.fill_null(zero)
    return f.select(
        c.USER_ID,
        as_of=t_cutoff,
        days_since_last_event=days_before_cutoff(f._last_act),
        days_since_first_event=days_before_cutoff(f._first),
        events_7d=f.events_7d,
        events_30d=f.events_30d,
        events_90d=f.events_90d,
        active_days_30d=f.active_days_30d,
        purchases_90d=f.purchases_90d,
        revenue_90d=f.revenue_90d.fill_null(zero),
        revenue_total=f.revenue_total.fill_null(zero),
        events_total=f.events_total,
        events_prev_30d=f.events_prev_30d,
        activity_change_30d=_ratio(f.events_30d - f.events_prev_30d, f.events_prev_30d),
        active_days_90d=f.active_days_90d,
        revenue_30d=f.revenue_30d.fill_null(zero),
        revenue_prev_30d=rev_prev,
        revenue_change_30d=_ratio(f.revenue_30d.fill_null(zero) - rev_prev, rev_prev),
        purchases_total=f.purchases_total,
        days_since_last_purchase=days_before_cutoff(f._last_purchase),
        avg_purchase_value=_ratio(f._purchase_value.fill_null(zero), f.purchases_total),
        refunds_90d=f.refunds_90d,
        refund_amount_total=f.refund_amount_total.fill_null(zero),
        mean_gap_days=_ratio(
            f._last_act.delta(f._first_act, unit="microsecond") / _DAY_MICROSECONDS,
            f.events_total - 1,
        ),
        events_per_active_day_30d=_ratio(f.events_30d, f.active_days_30d),
        distinct_event_types_90d=f.distinct_event_types_90d,
        purchase_rate_90d=_ratio(f.purchases_90d, f.events_90d),
        weekend_share_90d=_ratio(f._weekend_90d, f.events_90d),
        night_share_90d=_ratio(f._night_90d, f.events_90d),
        reactivated_30d=(
            (f.events_30d > 0)
            & (f._dormant_span == 0)
            & (f._first_act < since(30 + windows.active_window_days)).fill_null(False)
        ).cast("int64"),
        **{
            ACTIVE_FLAG: (f._last_act >= since(windows.active_window_days))
            .fill_null(False)
            .cast("int64")
        },
    )
