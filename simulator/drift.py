"""A known shift in behaviour from a given day, so that monitoring can be tested against it.

Why a post-processing step on the event table and not a change to the daily dynamics: the
monitor judges what it sees in the log, and a shift written into the log is exactly what a
real product change looks like to it (spend changes, sessions thin out, a new event type
appears). Labels are built from the same shifted events, so realised churn stays consistent
with the log. Before `from_day` the log is bit-for-bit the unshifted one; from it on:

- `spend_factor` multiplies every amount (purchases and refunds);
- `activity_factor` keeps that share of the other events (login, view, add_to_cart,
  support_ticket), each kept or dropped independently;
- `new_event_type` relabels `new_event_share` of the remaining views as a type the log has
  never had (for example `wishlist`).

The draws come from their own stream of the chunk's seed, so the rest of the log is unchanged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

KEPT_TYPES = ("purchase", "refund")  # spend events are scaled, never thinned


class DriftConfig(BaseModel):
    """What changes from `from_day` (days after the simulation's start) on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_day: int = Field(..., ge=0, description="First shifted day (0 = the start).")
    spend_factor: float = Field(1.0, gt=0, description="Multiplies every amount.")
    activity_factor: float = Field(
        1.0, gt=0, le=1, description="Share of non-purchase events kept."
    )
    new_event_type: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")
    new_event_share: float = Field(0.3, gt=0, le=1, description="Share of views relabelled.")

    @property
    def changes_anything(self) -> bool:
        return self.spend_factor != 1 or self.activity_factor < 1 or self.new_event_type is not None


def apply_drift(
    events: pa.Table, drift: DriftConfig, start_us: int, rng: np.random.Generator
) -> pa.Table:
    """The chunk's events with the shift applied from `drift.from_day` on (see module doc)."""
    if not drift.changes_anything or events.num_rows == 0:
        return events
    times = events["event_time"].cast(pa.int64()).to_numpy()
    shifted = times >= start_us + drift.from_day * 86_400_000_000
    kinds = events["event_type"].to_numpy(zero_copy_only=False).astype(object)
    amounts = events["amount"].to_numpy(zero_copy_only=False).astype(float)

    draws = rng.random(events.num_rows)  # one per row, whether used or not: stable streams
    spend = np.isin(kinds, KEPT_TYPES)
    keep = ~(shifted & ~spend & (draws >= drift.activity_factor))
    amounts = np.where(shifted & spend, np.round(amounts * drift.spend_factor, 2), amounts)
    if drift.new_event_type is not None:
        relabel = (
            shifted & (kinds == "view") & (rng.random(events.num_rows) < drift.new_event_share)
        )
        kinds = np.where(relabel, drift.new_event_type, kinds)

    table = events.set_column(
        events.schema.get_field_index("amount"), "amount", pa.array(amounts, type=pa.float64())
    ).set_column(
        events.schema.get_field_index("event_type"), "event_type", pa.array(kinds, pa.string())
    )
    return table.filter(pa.array(keep))
