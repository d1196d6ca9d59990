"""Feature set `behavioural_v2`: v1 plus cadence, CLV-model summaries and per-type behaviour.

Why a second set rather than more v1 columns: models record the feature-set id they were
trained on and serving refuses a mismatch, so v1 champions keep scoring on v1 while v2 is
evaluated. v2 keeps every v1 column (same definitions, same code) and adds:

- cadence and spend shape (cadence.py): overdue-ness against the user's own purchase rhythm,
  gap variability and trend, spend trend per purchase, spend concentration, refund share;
- BG/NBD and Gamma-Gamma summaries fitted on the history before the cutoff (clv_summary.py);
- per-event-type counts, recency and 30-day trend (event_types.py) for the set's event types.

The per-type columns depend on the chosen types, so a resolved v2 set carries them in
`FeatureSet.event_types`: `behavioural_v2(("view", "login"))` is the set with those columns;
`BEHAVIOURAL_V2` (no types) means "the log's top DEFAULT_TOP_K types before the cutoff".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from features import contract as c
from features.cadence import CADENCE_COLUMNS, cadence_features, purchase_buyers, refund_aggregates
from features.clv_summary import CLV_COLUMNS, clv_features
from features.config import WindowConfig
from features.definitions import FEATURE_SET, FeatureSet, as_naive_utc, build_features
from features.event_types import (
    DEFAULT_TOP_K,
    event_type_columns,
    top_event_types,
    type_aggregates,
    type_features,
)
from features.loading import LoadedEvents

BEHAVIOURAL_V2 = FeatureSet(
    name="behavioural",
    version="v2",
    columns=(*FEATURE_SET.columns, *CADENCE_COLUMNS, *CLV_COLUMNS),
)


def behavioural_v2(event_types: Sequence[str]) -> FeatureSet:
    """The v2 set with per-type columns for `event_types`, in their order (recordable)."""
    types = tuple(str(t) for t in event_types)
    return replace(
        BEHAVIOURAL_V2,
        columns=(*BEHAVIOURAL_V2.columns, *event_type_columns(types)),
        event_types=types,
    )


def resolve_v2(
    events: LoadedEvents,
    as_of: datetime,
    feature_set: FeatureSet = BEHAVIOURAL_V2,
    *,
    top_k: int = DEFAULT_TOP_K,
) -> FeatureSet:
    """`feature_set` itself if it names its event types, else v2 with the `top_k` most frequent
    types before `as_of`.

    Training should call this once (at its latest training cutoff) and build every cutoff with
    the result, so all stacked cutoffs have the same columns; scoring rebuilds the set from the
    recorded types with `behavioural_v2(types)` instead.
    """
    if feature_set.event_types:
        return feature_set
    return behavioural_v2(top_event_types(events.backend, events.table, as_of, top_k))


def build_behavioural_v2(
    events: LoadedEvents,
    as_of: datetime,
    windows: WindowConfig,
    feature_set: FeatureSet = BEHAVIOURAL_V2,
) -> ir.Table:
    """One row per user seen before `as_of` with every column of the (resolved) v2 set.

    Three per-user aggregates over the events before T (v1's, an event-level one for types and
    refunds, the purchase-day one for cadence) and the CLV fit, left-joined on `user_id`: every
    user of v1 keeps its row; users who never bought have missing cadence and CLV values.
    """
    resolved = resolve_v2(events, as_of, feature_set)
    types = resolved.event_types
    cutoff = ibis.literal(as_naive_utc(as_of), type=dt.Timestamp())
    past = events.table.filter(events.table[c.EVENT_TIME] < cutoff)

    base = build_features(events.table, as_of, windows)
    event_level = past.group_by(c.USER_ID).aggregate(
        **type_aggregates(past, as_of, types), **refund_aggregates(past)
    )
    buyers = purchase_buyers(past)
    clv = clv_features(events.backend, buyers, as_of, windows)

    joined = (
        base.left_join(event_level, c.USER_ID)
        .left_join(buyers, c.USER_ID)
        .left_join(clv, c.USER_ID)
    )
    return joined.select(
        *base.columns,
        **cadence_features(joined, as_of),
        **{name: joined[name] for name in CLV_COLUMNS},
        **type_features(joined, as_of, types),
    )
