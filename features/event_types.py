"""Per-event-type behaviour: which types get columns, their names, and their aggregates.

Why per type: a rich log (views, add-to-cart, logins, support tickets) says far more about a
user's intent than "any event"; v1 collapses them. The types are a *parameter* of the feature
set, not something rediscovered on every build: column names derive from them, so a model
trained on `type_view_*` must be scored with exactly those types. By default they are the log's
`DEFAULT_TOP_K` most frequent types among events strictly before the cutoff (ties broken by
name); whoever trains chooses them once (`top_event_types` at the latest training cutoff),
records `FeatureSet.event_types` with the model, and scoring passes the recorded tuple back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from features import contract as c
from features.definitions import as_naive_utc
from features.engines import to_frame

DEFAULT_TOP_K = 4
_SLUG_LENGTH = 32
# The columns each type gets, in this order; `{slug}` is the type's safe name.
TYPE_COLUMN_TEMPLATES: tuple[str, ...] = (
    "type_{slug}_count_total",
    "type_{slug}_count_30d",
    "type_{slug}_count_prev_30d",
    "type_{slug}_trend_30d",
    "type_{slug}_days_since_last",
)
_DAY_MICROSECONDS = 86_400_000_000.0


def top_event_types(
    backend: BaseBackend, events: ir.Table, as_of: datetime, k: int = DEFAULT_TOP_K
) -> tuple[str, ...]:
    """The `k` most frequent event types before `as_of`, most frequent first (ties by name).

    Runs one small query now: the answer fixes column names, so it cannot stay lazy.
    """
    if k < 1:
        raise ValueError(f"the number of event types must be at least 1, not {k}")
    cutoff = ibis.literal(as_naive_utc(as_of), type=dt.Timestamp())
    past = events.filter(events[c.EVENT_TIME] < cutoff)
    counts = past.group_by(c.EVENT_TYPE).aggregate(n=past.count())
    top = counts.order_by([ibis.desc("n"), c.EVENT_TYPE]).limit(k)
    return tuple(str(name) for name in to_frame(backend, top)[c.EVENT_TYPE])


def type_slugs(event_types: Sequence[str]) -> tuple[str, ...]:
    """Safe, stable column fragments: lower-case letters, digits and `_`, unique in order.

    `"Add to cart"` → `add_to_cart`; a type with no usable character becomes `type<i>`; a
    second type with the same slug gets `_2` (the recorded order makes that deterministic).
    """
    if len(set(event_types)) != len(event_types):
        raise ValueError(f"event types must be distinct: {list(event_types)}")
    slugs: list[str] = []
    for i, name in enumerate(event_types, start=1):
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:_SLUG_LENGTH] or f"type{i}"
        unique, n = slug, 2
        while unique in slugs:
            unique, n = f"{slug}_{n}", n + 1
        slugs.append(unique)
    return tuple(slugs)


def event_type_columns(event_types: Sequence[str]) -> tuple[str, ...]:
    """Every per-type column name, grouped by type in the given order."""
    return tuple(
        template.format(slug=slug)
        for slug in type_slugs(event_types)
        for template in TYPE_COLUMN_TEMPLATES
    )


def type_aggregates(
    past: ir.Table, as_of: datetime, event_types: Sequence[str]
) -> dict[str, ir.Scalar]:
    """Per-user aggregates for each type (to add to a group-by over events before the cutoff)."""
    cutoff = as_naive_utc(as_of)
    ts, kind = past[c.EVENT_TIME], past[c.EVENT_TYPE]
    w30 = ts >= ibis.literal(cutoff - timedelta(days=30), type=dt.Timestamp())
    w60 = ts >= ibis.literal(cutoff - timedelta(days=60), type=dt.Timestamp())
    aggregates: dict[str, ir.Scalar] = {}
    for name, slug in zip(event_types, type_slugs(event_types), strict=True):
        is_type = kind == name
        aggregates[f"type_{slug}_count_total"] = past.count(where=is_type)
        aggregates[f"type_{slug}_count_30d"] = past.count(where=is_type & w30)
        aggregates[f"type_{slug}_count_prev_30d"] = past.count(where=is_type & w60 & ~w30)
        aggregates[f"_type_{slug}_last"] = ts.max(where=is_type)
    return aggregates


def type_features(
    aggregated: ir.Table, as_of: datetime, event_types: Sequence[str]
) -> dict[str, ir.Value]:
    """The per-type columns from `type_aggregates`' output, in `event_type_columns` order.

    Trend is (last 30 days − previous 30) / (their sum), in [−1, 1]: unlike a ratio to the
    previous window it is defined for a type that is new this month (+1) and only missing when
    the type is absent from both windows. Recency is days from the last such event to T.
    """
    cutoff = ibis.literal(as_naive_utc(as_of), type=dt.Timestamp())
    columns: dict[str, ir.Value] = {}
    for slug in type_slugs(event_types):
        recent = aggregated[f"type_{slug}_count_30d"].fill_null(0)
        previous = aggregated[f"type_{slug}_count_prev_30d"].fill_null(0)
        both = recent + previous
        last = aggregated[f"_type_{slug}_last"]
        columns[f"type_{slug}_count_total"] = aggregated[f"type_{slug}_count_total"].fill_null(0)
        columns[f"type_{slug}_count_30d"] = recent
        columns[f"type_{slug}_count_prev_30d"] = previous
        columns[f"type_{slug}_trend_30d"] = ibis.ifelse(
            both > 0, (recent - previous) / both.cast("float64"), ibis.null("float64")
        )
        columns[f"type_{slug}_days_since_last"] = (
            cutoff.delta(last, unit="microsecond") / _DAY_MICROSECONDS
        )
    return columns
