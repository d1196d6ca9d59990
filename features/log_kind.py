"""What kind of log this is: purchases (and refunds) only, or richer behaviour as well.

Why it matters: a purchase-only log (CDNOW, a shop's order table) has no logins or views, so a
customer who buys every few months is quiet for weeks without having left. Windows made for
event-rich products (churn after 30 quiet days, "active" = an event in 90 days) label most of
such customers churned; training chooses the purchase-log windows instead, and says so.
"""

from __future__ import annotations

from features import contract as c
from features.cadence import REFUND_EVENT_TYPES
from features.engines import to_frame
from features.loading import LoadedEvents

PURCHASE_EVENT_TYPE = "purchase"


def non_purchase_events(events: LoadedEvents) -> int:
    """How many events are neither a purchase nor a refund (one query, run now).

    A purchase or refund is an event typed `purchase` or a refund type (any case), or any event
    that carries money (amount ≠ 0): a log whose adapter names its orders `order` is still a
    purchase log. A login or a view (no money) counts as a non-purchase event.
    """
    table = events.table
    kind = table[c.EVENT_TYPE].lower()
    money = table[c.AMOUNT].fill_null(0.0) != 0
    commerce = kind.isin([PURCHASE_EVENT_TYPE, *REFUND_EVENT_TYPES]) | money
    counted = table.aggregate(n=table.count(where=~commerce))
    return int(to_frame(events.backend, counted)["n"].iloc[0] or 0)
