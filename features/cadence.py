"""Purchase cadence, spend shape and refunds: how a buyer's own rhythm is changing.

Why: "30 days since the last purchase" means churn for a weekly buyer and nothing for a
quarterly one. Measured against the user's own mean gap between purchases (overdue), with how
regular those gaps are and whether they are stretching, recency becomes comparable across users.

Definitions (all from events strictly before the cutoff T):
- A *refund* is an event with a negative amount, or one whose type is a refund type
  (`REFUND_EVENT_TYPES`, any case), whatever the sign of its amount.
- A *purchase* is any other event with a positive amount.
- A *purchase day* is a UTC calendar day with at least one purchase; its spend is the sum of
  that day's purchase amounts. Same-day purchases (the lines of one invoice) are one
  transaction, as in the BG/NBD literature, so gaps are whole days ≥ 1 and integer-exact on
  every engine. The same per-user table feeds the BG/NBD summary (clv_summary.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from features import contract as c
from features.definitions import _ratio, as_naive_utc, epoch_seconds

REFUND_EVENT_TYPES: tuple[str, ...] = ("refund", "return", "chargeback")
_DAY_SECONDS = 86_400
_DAY_MICROSECONDS = 86_400_000_000.0

CADENCE_COLUMNS: tuple[str, ...] = (
    "purchase_days_total",
    "mean_purchase_gap_days",
    "purchase_gap_std_days",
    "purchase_gap_cv",
    "last_purchase_gap_days",
    "purchase_gap_trend",
    "purchase_overdue",
    "spend_trend_per_purchase",
    "spend_herfindahl",
    "largest_purchase_share",
    "refund_share",
)


def is_refund(events: ir.Table) -> ir.BooleanValue:
    """Negative money, or an event typed as a refund (some logs record refunds as positive)."""
    kind = events[c.EVENT_TYPE].lower()
    return (events[c.AMOUNT] < 0) | kind.isin(list(REFUND_EVENT_TYPES))


def is_purchase(events: ir.Table) -> ir.BooleanValue:
    return (events[c.AMOUNT] > 0) & ~is_refund(events)


def last_possible_day(as_of: datetime) -> int:
    """The UTC day number of the last instant before T (the observation period's last day)."""
    moment = as_naive_utc(as_of) - timedelta(microseconds=1)
    return int(epoch_seconds(moment) // _DAY_SECONDS)


def purchase_buyers(past: ir.Table) -> ir.Table:
    """One row per buyer: purchase-day count, first/last day, gap and spend sums (see below).

    Gaps come from a window over the user's purchase days (lag), and the spend of the later
    half of them from their rank, so everything the features need is one aggregate after it:
    sums of integer gaps and their squares (exact on any engine, unlike a built-in stddev).
    """
    purchases = past.filter(is_purchase(past))
    day = (purchases[c.EVENT_TIME].epoch_seconds() // _DAY_SECONDS).cast("int64")
    days = (
        purchases.mutate(_day=day)
        .group_by([c.USER_ID, "_day"])
        .aggregate(_spend=purchases[c.AMOUNT].sum(), _last_at=purchases[c.EVENT_TIME].max())
    )
    ordered = ibis.window(group_by=days[c.USER_ID], order_by=days._day)
    days = days.mutate(
        _gap=days._day - days._day.lag().over(ordered),
        _rank=ibis.row_number().over(ordered),  # 0 for the first purchase day
        _n=days._day.count().over(ibis.window(group_by=days[c.USER_ID])),
    )
    in_later_half = days._rank >= days._n - days._n // 2
    return days.group_by(c.USER_ID).aggregate(
        purchase_days_total=days.count(),
        _first_day=days._day.min(),
        _last_day=days._day.max(),
        _gap_sum=days._gap.sum(),
        _gap_squares=(days._gap * days._gap).sum(),
        _last_gap=days._gap.max(where=days._rank == days._n - 1),
        _spend_total=days._spend.sum(),
        _spend_squares=(days._spend * days._spend).sum(),
        _spend_max=days._spend.max(),
        _first_spend=days._spend.sum(where=days._rank == 0),
        _later_spend=days._spend.sum(where=in_later_half),
        _last_purchase_at=days._last_at.max(),
    )


def refund_aggregates(past: ir.Table) -> dict[str, ir.Scalar]:
    """Per-user refunded and purchased money (to add to an event-level group-by)."""
    refund, purchase = is_refund(past), is_purchase(past)
    return {
        "_refund_amount": past[c.AMOUNT].abs().sum(where=refund),
        "_purchase_amount": past[c.AMOUNT].sum(where=purchase),
    }


def cadence_features(joined: ir.Table, as_of: datetime) -> dict[str, ir.Value]:
    """The CADENCE_COLUMNS from `purchase_buyers` and `refund_aggregates` columns of one row.

    Missing (not zero) wherever the quantity is undefined: no purchase, one purchase day (no
    gap), two (one gap: no variability, and a trend that is always 1).
    """
    cutoff = ibis.literal(as_naive_utc(as_of), type=dt.Timestamp())
    n = joined.purchase_days_total.fill_null(0)
    gaps = n - 1
    mean_gap = _ratio(joined._gap_sum, gaps)
    mean_square = _ratio(joined._gap_squares, gaps)
    # Population variance from exact integer sums; max(0, …) absorbs float rounding.
    variance = ibis.greatest(mean_square - mean_gap * mean_gap, ibis.literal(0.0))
    std_gap = ibis.ifelse(n >= 3, variance.sqrt(), ibis.null("float64"))
    later = n // 2
    later_mean = _ratio(joined._later_spend, later)
    earlier_mean = _ratio(joined._spend_total - joined._later_spend, n - later)
    since_purchase = cutoff.delta(joined._last_purchase_at, unit="microsecond") / _DAY_MICROSECONDS
    return {
        "purchase_days_total": n,
        "mean_purchase_gap_days": mean_gap,
        "purchase_gap_std_days": std_gap,
        "purchase_gap_cv": _ratio(std_gap, mean_gap),
        "last_purchase_gap_days": joined._last_gap.cast("float64"),
        "purchase_gap_trend": ibis.ifelse(
            n >= 3, _ratio(joined._last_gap, mean_gap), ibis.null("float64")
        ),
        "purchase_overdue": _ratio(since_purchase, mean_gap),
        "spend_trend_per_purchase": ibis.ifelse(
            n >= 2, _ratio(later_mean, earlier_mean), ibis.null("float64")
        ),
        "spend_herfindahl": _ratio(joined._spend_squares, joined._spend_total**2),
        "largest_purchase_share": _ratio(joined._spend_max, joined._spend_total),
        "refund_share": _ratio(joined._refund_amount.fill_null(0.0), joined._purchase_amount),
    }
