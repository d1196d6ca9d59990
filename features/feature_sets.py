"""The feature sets this build can compute, by id, and the one function that builds any of them.

Why a registry: a model records the id of the set it was trained on (`behavioural_v1`, …);
whoever scores it looks the set up here and builds exactly that, so v1 champions keep working
while v2 challengers are trained. `FEATURE_SET` (v1) stays the default everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis.expr.types as ir

from features.behavioural_v2 import BEHAVIOURAL_V2, behavioural_v2, build_behavioural_v2
from features.config import WindowConfig
from features.definitions import FEATURE_SET, FeatureSet, build_features
from features.loading import LoadedEvents

FEATURE_SETS: dict[str, FeatureSet] = {fs.id: fs for fs in (FEATURE_SET, BEHAVIOURAL_V2)}


def feature_set(name: str, event_types: Sequence[str] = ()) -> FeatureSet:
    """The registered set `name` (its id, e.g. `behavioural_v2`); v2 with `event_types` given
    has their per-type columns. Raises ValueError naming the known ids."""
    if name not in FEATURE_SETS:
        known = ", ".join(FEATURE_SETS)
        raise ValueError(f"unknown feature set {name!r}; this build computes: {known}")
    if event_types and name != BEHAVIOURAL_V2.id:
        raise ValueError(f"feature set {name!r} has no per-event-type columns to choose")
    return behavioural_v2(event_types) if event_types else FEATURE_SETS[name]


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
