"""Point-in-time behavioural features and labels from event logs (DESIGN.md §2–3)."""

from features.config import WindowConfig
from features.contract import EventContractError
from features.definitions import CORE_FEATURES, FEATURE_SET, FeatureSet, build_features
from features.labels import LABEL_COLUMNS
from features.loading import LoadedEvents, LoadReport, from_frame, load_events
from features.pipeline import feature_frame, feature_table
from features.spark_table import read_feature_table, write_feature_table

__all__ = [
    "CORE_FEATURES",
    "FEATURE_SET",
    "LABEL_COLUMNS",
    "EventContractError",
    "FeatureSet",
    "LoadReport",
    "LoadedEvents",
    "WindowConfig",
    "build_features",
    "feature_frame",
    "feature_table",
    "from_frame",
    "load_events",
    "read_feature_table",
    "write_feature_table",
]
