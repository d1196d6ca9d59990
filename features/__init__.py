"""Point-in-time behavioural features and labels from event logs (DESIGN.md §2–3).

The names below are what training, serving and the CLI may use; everything else in this package
is an implementation detail (tests/test_exported_members.py checks it).
"""

from features.behavioural_v2 import BEHAVIOURAL_V2, behavioural_v2, resolve_v2
from features.cohorts import cohort_retention
from features.config import WindowConfig
from features.contract import EventContractError, RowCountSummary
from features.definitions import (
    ACTIVE_FLAG,
    CORE_FEATURES,
    FEATURE_SET,
    FeatureSet,
    as_naive_utc,
    build_features,
)
from features.engines import ENGINES, check_engine, connect, to_frame
from features.feature_sets import FEATURE_SETS, feature_set
from features.import_profile import ImportProfile, load_import_profile, parse_column_mapping
from features.labels import LABEL_COLUMNS, build_outcomes
from features.loading import LoadedEvents, LoadReport, from_frame, load_events
from features.output import check_output_path, write_frame, write_text
from features.pipeline import feature_frame, feature_table
from features.profile import EventProfile, profile_events
from features.row_issues import ISSUE_COLUMNS, RowIssues, find_row_issues
from features.spark_table import read_feature_table, spark_features, write_feature_table

__all__ = [
    "ACTIVE_FLAG",
    "BEHAVIOURAL_V2",
    "CORE_FEATURES",
    "ENGINES",
    "FEATURE_SET",
    "FEATURE_SETS",
    "ISSUE_COLUMNS",
    "LABEL_COLUMNS",
    "EventContractError",
    "EventProfile",
    "FeatureSet",
    "ImportProfile",
    "LoadReport",
    "LoadedEvents",
    "RowCountSummary",
    "RowIssues",
    "WindowConfig",
    "as_naive_utc",
    "behavioural_v2",
    "build_features",
    "build_outcomes",
    "check_engine",
    "check_output_path",
    "cohort_retention",
    "connect",
    "feature_frame",
    "feature_set",
    "feature_table",
    "find_row_issues",
    "from_frame",
    "load_events",
    "load_import_profile",
    "parse_column_mapping",
    "profile_events",
    "read_feature_table",
    "resolve_v2",
    "spark_features",
    "to_frame",
    "write_feature_table",
    "write_frame",
    "write_text",
]
