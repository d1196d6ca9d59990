"""A tiny event log whose features and labels are computed by hand in the tests.

Cutoff T = 2024-04-01 00:00 UTC. Comments give each event's position relative to T.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

CUTOFF = datetime(2024, 4, 1)

ROWS = [
    # u1: active, refunds, an offset timestamp on each side of the cutoff
    ("u1", "2024-01-01 12:00:00", "login", None),  # first event, 90.5 days before T
    ("u1", "2024-01-02 00:00:00", "view", None),  # exactly T-90d: inside the 90-day window
    ("u1", "2024-03-02 00:00:00", "purchase", "50"),  # exactly T-30d: inside the 30-day window
    ("u1", "2024-03-25 08:00:00", "purchase", "20"),  # inside 7 days
    ("u1", "2024-03-28 10:00:00", "refund", "-5"),
    ("u1", "2024-03-31T20:00:00+02:00", "login", None),  # = 18:00 UTC, 0.25 days before T
    ("u1", "2024-03-31T22:00:00-05:00", "login", None),  # = 04-01 03:00 UTC: AFTER T
    ("u1", "2024-04-01 00:00:00", "login", None),  # exactly at T: not a feature input
    ("u1", "2024-06-29 23:00:00", "purchase", "30"),  # last moment inside the 90-day value window
    ("u1", "2024-06-30 00:00:00", "purchase", "40"),  # exactly T+90d: outside
    # u2: lapsed (last event 122 days before T), buys again after T
    ("u2", "2023-12-01 00:00:00", "purchase", "100"),
    ("u2", "2024-05-01 00:00:00", "purchase", "10"),
    # u4: active, never comes back
    ("u4", "2024-02-15 00:00:00", "login", None),
    # u5: active, comes back exactly at T+30d (outside the churn horizon)
    ("u5", "2024-03-10 00:00:00", "login", None),
    ("u5", "2024-05-01 00:00:00", "login", None),
    # u6: back in the last 30 days after a dormant spell longer than the active window
    ("u6", "2023-10-01 00:00:00", "login", None),
    ("u6", "2024-03-20 00:00:00", "login", None),
    # u3: first seen after the cutoff: no feature row
    ("u3", "2024-04-02 00:00:00", "login", None),
]


def tiny_events() -> pd.DataFrame:
    """The log as text columns, the way a CSV arrives."""
    return pd.DataFrame(ROWS, columns=["user_id", "event_time", "event_type", "amount"])
