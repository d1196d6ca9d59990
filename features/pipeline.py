"""Features (and optionally labels) for one cutoff, materialised as a frame or written to disk.

This is the single entry point training, scoring and the CLI share, so a feature can only be
defined once (`definitions.py`) and computed one way.
"""

from __future__ import annotations

from datetime import datetime

import ibis.expr.types as ir
import pandas as pd

from features import contract as c
from features.config import WindowConfig
from features.definitions import FEATURE_SET, FeatureSet
from features.engines import to_frame
from features.feature_sets import build_feature_set
from features.labels import attach_labels, build_outcomes
from features.loading import LoadedEvents


def feature_table(
    events: LoadedEvents,
    as_of: datetime,
    windows: WindowConfig,
    *,
    labels: bool = False,
    feature_set: FeatureSet | str = FEATURE_SET,
) -> ir.Table:
    """The feature expression for one cutoff (lazy: nothing runs until it is executed).

    `feature_set` is a set or its id (features.feature_sets); v1 by default. Sets that fit a
    model on the history (behavioural_v2) run that fit now; the table stays lazy.
    """
    if events.report.rows_accepted == 0:
        raise c.EventContractError(f"{events.report.summary()}: no valid events to build from")
    table = build_feature_set(feature_set, events, as_of, windows)
    if labels:
        table = attach_labels(table, build_outcomes(events.table, as_of, windows))
    return table.order_by(c.USER_ID)


def feature_frame(
    events: LoadedEvents,
    as_of: datetime,
    windows: WindowConfig,
    *,
    labels: bool = False,
    feature_set: FeatureSet | str = FEATURE_SET,
) -> pd.DataFrame:
    """Features for one cutoff as a pandas frame, one row per user seen before it."""
    table = feature_table(events, as_of, windows, labels=labels, feature_set=feature_set)
    frame = to_frame(events.backend, table)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame.reset_index(drop=True)
