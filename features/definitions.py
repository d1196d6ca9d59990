"""The behavioural feature set, declared once in Ibis and run on any engine.

Every feature is computed as of a cutoff T from events strictly before T: the event table is
filtered on `event_time < T` before anything else, so events at or after T cannot leak in.
Windows are half-open, `[T - d, T)`, compared on exact timestamps (no float rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from features import contract as c
from features.config import WindowConfig

_DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class FeatureSet:
    """A named, versioned list of model inputs; models record its id and serving checks it."""

    name: str
    version: str
    columns: tuple[str, ...]

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


def as_naive_utc(moment: datetime) -> datetime:
    """Cutoffs are compared with naive UTC event times: convert zoned cutoffs, keep naive ones."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the epoch for a naive-UTC moment."""
    return moment.replace(tzinfo=UTC).timestamp()


def _ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """numerator / denominator, null where the denominator is zero (undefined, not zero)."""
    return ibis.ifelse(
        denominator > 0, numerator / denominator.cast("float64"), ibis.null("float64")
    )


def build_features(events: ir.Table, as_of: datetime, windows: WindowConfig) -> ir.Table:
    """One row per user seen before `as_of` with every feature of FEATURE_SET, as of `as_of`."""
    cutoff = as_naive_utc(as_of)
    t_epoch = epoch_seconds(cutoff)

    def since(days: int) -> ir.TimestampScalar:
        return ibis.literal(cutoff - timedelta(days=days), type=dt.Timestamp())

    past = events.filter(events[c.EVENT_TIME] < ibis.literal(cutoff, type=dt.Timestamp()))
    ts = past[c.EVENT_TIME]
    activity = (
        past[c.EVENT_TYPE].isin(list(windows.activity_events))
        if windows.activity_events
        else ibis.literal(True)
    )
    amount = past[c.AMOUNT]
    epoch = ts.epoch_seconds().cast("float64")
    w7, w30, w60, w90 = (ts >= since(7), ts >= since(30), ts >= since(60), ts >= since(90))
    dormant_span = (ts >= since(30 + windows.active_window_days)) & ~w30
    count = past[c.USER_ID].count
    day = ts.date()

    totals = past.group_by(c.USER_ID).aggregate(
        _last_act=epoch.max(where=activity),
        _first_act=epoch.min(where=activity),
        _first=epoch.min(),
        _last_purchase=epoch.max(where=amount > 0),
        _purchase_value=amount.sum(where=amount > 0),
        events_total=count(where=activity),
        events_7d=count(where=activity & w7),
        events_30d=count(where=activity & w30),
        events_90d=count(where=activity & w90),
        events_prev_30d=count(where=activity & w60 & ~w30),
        active_days_30d=day.nunique(where=activity & w30),
        active_days_90d=day.nunique(where=activity & w90),
        purchases_90d=count(where=(amount > 0) & w90),
        purchases_total=count(where=amount > 0),
        revenue_30d=amount.sum(where=w30),
        revenue_prev_30d=amount.sum(where=w60 & ~w30),
        revenue_90d=amount.sum(where=w90),
        revenue_total=amount.sum(),
        refunds_90d=count(where=(amount < 0) & w90),
        refund_amount_total=(-amount).sum(where=amount < 0),
        distinct_event_types_90d=past[c.EVENT_TYPE].nunique(where=w90),
        _weekend_90d=count(where=activity & w90 & (ts.day_of_week.index() >= 5)),
        _night_90d=count(where=activity & w90 & (ts.hour() < 6)),
        _active=count(where=activity & (ts >= since(windows.active_window_days))),
        _dormant_span=count(where=activity & dormant_span),
        _before_dormancy=count(where=activity & (ts < since(30 + windows.active_window_days))),
    )
    zero = ibis.literal(0.0)
    f = totals
    rev_prev = f.revenue_prev_30d.fill_null(zero)
    return f.select(
        c.USER_ID,
        as_of=ibis.literal(cutoff, type=dt.Timestamp()),
        days_since_last_event=(t_epoch - f._last_act) / _DAY_SECONDS,
        days_since_first_event=(t_epoch - f._first) / _DAY_SECONDS,
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
        days_since_last_purchase=(t_epoch - f._last_purchase) / _DAY_SECONDS,
        avg_purchase_value=_ratio(f._purchase_value.fill_null(zero), f.purchases_total),
        refunds_90d=f.refunds_90d,
        refund_amount_total=f.refund_amount_total.fill_null(zero),
        mean_gap_days=_ratio((f._last_act - f._first_act) / _DAY_SECONDS, f.events_total - 1),
        events_per_active_day_30d=_ratio(f.events_30d, f.active_days_30d),
        distinct_event_types_90d=f.distinct_event_types_90d,
        purchase_rate_90d=_ratio(f.purchases_90d, f.events_90d),
        weekend_share_90d=_ratio(f._weekend_90d, f.events_90d),
        night_share_90d=_ratio(f._night_90d, f.events_90d),
        reactivated_30d=(
            (f.events_30d > 0) & (f._dormant_span == 0) & (f._before_dormancy > 0)
        ).cast("int64"),
        **{ACTIVE_FLAG: (f._active > 0).cast("int64")},
    )
