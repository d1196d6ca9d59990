"""The feature sets this build can compute, by id, and the one function that builds any of them.

Why a registry: a model records the id of the set it was trained on (`behavioural_v1`, …);
whoever scores it looks the set up here and builds exactly that, so v1 champions keep working
while v2 challengers are trained. `FEATURE_SET` (v1) stays the default everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis.expr.types as ir

from features.behavioural_v2_set import (
    BEHAVIOURAL_V2,
    behavioural_v2,
    build_behavioural_v2,
    resolve_v2,
)
from features.cadence import CADENCE_COLUMNS
from features.clv_summary import CLV_COLUMNS
from features.config import WindowConfig
from features.definitions import FEATURE_SET, FeatureSet, build_features
from features.event_types import event_type_columns
from features.loading import LoadedEvents

FEATURE_SETS: dict[str, FeatureSet] = {fs.id: fs for fs in (FEATURE_SET, BEHAVIOURAL_V2)}
# v2's spend-shape columns (computed with cadence, but a signal of their own: how lumpy spend is
# and how much of it comes back), kept apart so an ablation can judge them separately.
SPEND_SHAPE_COLUMNS: tuple[str, ...] = (
    "spend_herfindahl",
    "largest_purchase_share",
    "refund_share",
)


def feature_set(name: str, event_types: Sequence[str] = ()) -> FeatureSet:
    """The registered set `name` (its id, e.g. `behavioural_v2`); v2 with `event_types` given
    has their per-type columns. Raises ValueError naming the known ids."""
    if name not in FEATURE_SETS:
        known = ", ".join(FEATURE_SETS)
        raise ValueError(f"unknown feature set {name!r}; this build computes: {known}")
    if event_types and name != BEHAVIOURAL_V2.id:
        raise ValueError(f"feature set {name!r} has no per-event-type columns to choose")
    return behavioural_v2(event_types) if event_types else FEATURE_SETS[name]


def resolve_feature_set(chosen: FeatureSet, events: LoadedEvents, as_of: datetime) -> FeatureSet:
    """`chosen` with everything a build needs fixed: v2 without event types gets the log's most
    frequent types before `as_of` (one query now); any other set is returned as it is."""
    if chosen.id == BEHAVIOURAL_V2.id and not chosen.event_types:
        return resolve_v2(events, as_of, chosen)
    return chosen


def build_feature_set(
    chosen: FeatureSet | str, events: LoadedEvents, as_of: datetime, windows: WindowConfig
) -> ir.Table:
    """The lazy feature table of `chosen` (a set or its id) for one cutoff."""
    resolved = feature_set(chosen) if isinstance(chosen, str) else chosen
    if resolved.id == FEATURE_SET.id:
        return build_features(events.table, as_of, windows)
    if resolved.id == BEHAVIOURAL_V2.id:
        return build_behavioural_v2(events, as_of, windows, resolved)
    raise ValueError(f"no builder for feature set {resolved.id!r}")


def feature_groups(chosen: FeatureSet) -> dict[str, tuple[str, ...]]:
    """The groups of columns v2 adds to v1, by name, for ablations: which ones earn their place.

    `cadence` (purchase rhythm and spend trend), `clv` (BG/NBD and Gamma-Gamma summaries),
    `event_types` (per-type counts, recency and trend: needs a resolved set, with its types)
    and `spend_shape` (spend concentration and refund share). v1 has none.
    """
    if chosen.id == FEATURE_SET.id:
        return {}
    if chosen.id != BEHAVIOURAL_V2.id:
        raise ValueError(f"no feature groups are declared for {chosen.id!r}")
    return {
        "cadence": tuple(c for c in CADENCE_COLUMNS if c not in SPEND_SHAPE_COLUMNS),
        "clv": CLV_COLUMNS,
        "event_types": event_type_columns(chosen.event_types),
        "spend_shape": SPEND_SHAPE_COLUMNS,
    }


def feature_set_union(chosen: Sequence[FeatureSet]) -> tuple[str, ...]:
    """Every column of several sets, once each, in first-seen order.

    Why a union is safe: a column name means one definition in every set (v2 keeps v1's columns
    and code, and a per-type column's name carries its type), so models trained on different
    sets can be scored on one frame that holds all their columns.
    """
    return tuple(dict.fromkeys(column for fs in chosen for column in fs.columns))
