"""Turn a chunk's daily activity into event rows of the contract (DESIGN.md §2).

Why a separate step: the daily process decides only what matters for the future (sessions,
purchases, tickets, refunds); the detail that does not (how many pages a session viewed, the
minute of each click, the exact order value) is filled in here, vectorised over the whole chunk.

A session is a `login`, one or more `view`s, sometimes an abandoned `add_to_cart`; a purchase day
ends its last session with `add_to_cart` then `purchase`. A refund (negative amount, the whole
order or part of it) follows a purchase that went wrong by 1-7 days; a `support_ticket` arrives in
office hours. Events dated after the simulated period are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

import numpy as np
import pyarrow as pa

from simulator.dynamics import CHANNELS, PLATFORMS, DayActivity, Population

EVENT_TYPES: tuple[str, ...] = (
    "login",
    "view",
    "add_to_cart",
    "purchase",
    "refund",
    "support_ticket",
)
_LOGIN, _VIEW, _CART, _PURCHASE, _REFUND, _TICKET = range(len(EVENT_TYPES))
_ABANDONED_CART_CHANCE = 0.1
_FULL_REFUND_CHANCE = 0.7
_ORDER_VALUE_SPREAD = 0.6
_DAY_US = 86_400_000_000
_SESSION_START_LIMIT = 86_400 - 2_700  # sessions last < 45 min and end the same day

EVENT_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("event_type", pa.string()),
        ("amount", pa.float64()),
        ("channel", pa.string()),
        ("platform", pa.string()),
    ]
)


def user_ids(first_index: int, count: int, total_users: int) -> pa.Array:
    """Zero-padded string ids (`u0000001`, …), one-based and global across chunks."""
    width = max(7, len(str(total_users)))
    return pa.array([f"u{i:0{width}d}" for i in range(first_index + 1, first_index + count + 1)])


def start_microseconds(start: date) -> int:
    """Midnight UTC of the first simulated day, in microseconds since the epoch."""
    midnight = datetime.combine(start, time(), tzinfo=UTC)
    return int(midnight.timestamp()) * 1_000_000


def _concat(activity: Sequence[DayActivity]) -> dict[str, np.ndarray]:
    columns = {
        name: np.concatenate([getattr(a, name) for a in activity])
        for name in ("user", "sessions", "purchase", "refund_delay", "ticket")
    }
    columns["day"] = np.concatenate([np.full(a.user.size, a.day, dtype=np.int32) for a in activity])
    return columns


def events_table(
    activity: Sequence[DayActivity],
    population: Population,
    ids: pa.Array,
    start: date,
    days: int,
    rng: np.random.Generator,
) -> pa.Table:
    """All events of one chunk, sorted by user then time."""
    act = _concat(activity)
    pop = population
    sessions = act["sessions"].astype(np.int64)
    session_user = np.repeat(act["user"], sessions)
    session_day = np.repeat(act["day"], sessions)
    hour = (
        pop.hour_peak[session_user]
        + pop.hour_spread[session_user] * rng.standard_normal(session_user.size)
    ) % 24.0
    session_start = (hour * 3600.0) % _SESSION_START_LIMIT

    views = rng.poisson(pop.view_rate[session_user])
    view_session = np.repeat(np.arange(session_user.size), views)
    abandoned = (rng.random(session_user.size) < _ABANDONED_CART_CHANCE).nonzero()[0]
    last_session = np.cumsum(sessions) - 1
    buying_session = last_session[act["purchase"]]
    buyer = session_user[buying_session]
    cart_offset = rng.uniform(300.0, 1500.0, buyer.size)
    order_value = np.round(
        np.exp(pop.spend_mu[buyer] + _ORDER_VALUE_SPREAD * rng.standard_normal(buyer.size)), 2
    )
    order_value = np.maximum(order_value, 0.5)

    refunded = act["refund_delay"][act["purchase"]] > 0
    refund_day = (
        session_day[buying_session][refunded] + act["refund_delay"][act["purchase"]][refunded]
    )
    share = np.where(
        rng.random(refund_day.size) < _FULL_REFUND_CHANCE,
        1.0,
        rng.uniform(0.2, 0.8, refund_day.size),
    )
    refund_amount = -np.round(order_value[refunded] * share, 2)
    ticket_user = act["user"][act["ticket"]]

    parts = [
        (session_user, session_day, session_start, _LOGIN, 0.0),
        (
            session_user[view_session],
            session_day[view_session],
            session_start[view_session] + rng.uniform(20.0, 1200.0, view_session.size),
            _VIEW,
            0.0,
        ),
        (
            session_user[abandoned],
            session_day[abandoned],
            session_start[abandoned] + rng.uniform(120.0, 1500.0, abandoned.size),
            _CART,
            0.0,
        ),
        (
            buyer,
            session_day[buying_session],
            session_start[buying_session] + cart_offset,
            _CART,
            0.0,
        ),
        (
            buyer,
            session_day[buying_session],
            session_start[buying_session] + cart_offset + rng.uniform(30.0, 600.0, buyer.size),
            _PURCHASE,
            order_value,
        ),
        (
            buyer[refunded],
            refund_day,
            rng.uniform(9 * 3600.0, 18 * 3600.0, refund_day.size),
            _REFUND,
            refund_amount,
        ),
        (
            ticket_user,
            act["day"][act["ticket"]],
            rng.uniform(8 * 3600.0, 21 * 3600.0, ticket_user.size),
            _TICKET,
            0.0,
        ),
    ]
    user = np.concatenate([p[0] for p in parts])
    day = np.concatenate([p[1] for p in parts]).astype(np.int64)
    second = np.concatenate([p[2] for p in parts])
    kind = np.concatenate([np.full(p[0].size, p[3], dtype=np.int8) for p in parts])
    amount = np.concatenate([np.broadcast_to(np.asarray(p[4], float), p[0].shape) for p in parts])

    keep = day < days
    user, day, second, kind, amount = user[keep], day[keep], second[keep], kind[keep], amount[keep]
    event_us = start_microseconds(start) + day * _DAY_US + np.round(second * 1e6).astype(np.int64)
    order = np.lexsort((kind, event_us, user))
    user, event_us, kind, amount = user[order], event_us[order], kind[order], amount[order]
    return pa.Table.from_arrays(
        [
            ids.take(pa.array(user)),
            pa.array(event_us, type=pa.timestamp("us", tz="UTC")),
            pa.array(EVENT_TYPES).take(pa.array(kind)),
            pa.array(amount, type=pa.float64()),
            pa.array(CHANNELS).take(pa.array(pop.channel[user])),
            pa.array(PLATFORMS).take(pa.array(pop.platform[user])),
        ],
        schema=EVENT_SCHEMA,
    )
