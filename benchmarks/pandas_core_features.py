"""A straightforward pandas group-by implementation of the nine core features (DESIGN.md §3).

The baseline the feature benchmark compares against: what a data scientist would write first.
It is also checked against the Ibis definitions in the benchmark, so the comparison is fair.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd


def core_features_pandas(events: pd.DataFrame, cutoff: datetime) -> pd.DataFrame:
    """Core features at `cutoff` (all event types are activity), one row per user, sorted."""
    past = events[events["event_time"] < cutoff]
    age = past["event_time"]
    flags = pd.DataFrame(
        {
            "user_id": past["user_id"],
            "w7": age >= cutoff - timedelta(days=7),
            "w30": age >= cutoff - timedelta(days=30),
            "w90": age >= cutoff - timedelta(days=90),
            "amount": past["amount"],
            "day": age.dt.floor("D"),
            "event_time": age,
        }
    )
    flags["purchase90"] = flags["w90"] & (flags["amount"] > 0)
    flags["revenue90"] = flags["amount"].where(flags["w90"], 0.0)
    grouped = flags.groupby("user_id", sort=True)
    out = grouped.agg(
        last=("event_time", "max"),
        first=("event_time", "min"),
        events_7d=("w7", "sum"),
        events_30d=("w30", "sum"),
        events_90d=("w90", "sum"),
        purchases_90d=("purchase90", "sum"),
        revenue_90d=("revenue90", "sum"),
        revenue_total=("amount", "sum"),
    )
    active_days = flags[flags["w30"]].groupby("user_id")["day"].nunique()
    out["active_days_30d"] = active_days.reindex(out.index, fill_value=0)
    day = np.timedelta64(1, "D")
    out["days_since_last_event"] = (pd.Timestamp(cutoff) - out.pop("last")) / day
    out["days_since_first_event"] = (pd.Timestamp(cutoff) - out.pop("first")) / day
    return out.reset_index()
