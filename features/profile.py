"""A profile of an accepted event log: what an operator checks before trusting an export.

Why separate from loading: loading must stay cheap (it runs before every feature build), while
some checks here (exact duplicate rows) cost a pass that groups every column, about as long as
the feature build itself. `retain validate` pays for them once, on demand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import ibis

from features import contract as c
from features.loading import LoadedEvents, as_datetime

TOP_EVENT_TYPES = 10


@dataclass(frozen=True)
class EventProfile:
    """Counts over the accepted rows of one event log."""

    events: int
    users: int
    first_event: datetime | None
    last_event: datetime | None
    event_types: dict[str, int]  # the most frequent types, most frequent first
    other_event_types: int  # how many further types exist beyond those listed
    duplicate_rows: int  # rows identical to an earlier one in every contract column
    date_only_share: float  # share of events stamped exactly at midnight (day-granular logs)
    negative_amounts: int  # refunds and cancellations
    max_abs_amount: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: datetimes as ISO text."""
        data = asdict(self)
        for key in ("first_event", "last_event"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def profile_events(loaded: LoadedEvents) -> EventProfile:
    """Profile the accepted rows in three queries: totals, event types, duplicates."""
    table = loaded.table
    time, amount = table[c.EVENT_TIME], table[c.AMOUNT]
    midnight = (time.hour() == 0) & (time.minute() == 0) & (time.second() == 0)
    totals = (
        table.aggregate(
            events=table.count(),
            users=table[c.USER_ID].nunique(),
            first=time.min(),
            last=time.max(),
            midnight=midnight.sum(),
            negative=(amount < 0).sum(),
            max_abs=amount.abs().max(),
        )
        .execute()
        .iloc[0]
    )
    types = (
        table.group_by(c.EVENT_TYPE)
        .aggregate(n=table.count())
        .order_by([ibis.desc("n"), c.EVENT_TYPE])
        .execute()
    )
    distinct_rows = table.select(*c.CONTRACT_COLUMNS).distinct().count().execute()
    events = int(totals["events"])
    listed = types.head(TOP_EVENT_TYPES)
    return EventProfile(
        events=events,
        users=int(totals["users"]),
        first_event=as_datetime(totals["first"]) if events else None,
        last_event=as_datetime(totals["last"]) if events else None,
        event_types={
            str(t): int(n) for t, n in zip(listed[c.EVENT_TYPE], listed["n"], strict=True)
        },
        other_event_types=max(len(types) - TOP_EVENT_TYPES, 0),
        duplicate_rows=events - int(distinct_rows),
        date_only_share=float(totals["midnight"] or 0) / events if events else 0.0,
        negative_amounts=int(totals["negative"] or 0),
        max_abs_amount=float(totals["max_abs"] or 0.0),
    )
