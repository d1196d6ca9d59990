"""Point-in-time behavioural features and labels from event logs (DESIGN.md §2–3).

The names below are what training, serving and the CLI may use; everything else in this package
is an implementation detail (tests/test_exported_members.py checks it).

Why lazy exports (PEP 562): the CLI registers every command at start-up and MLflow imports
this package when it unpickles a model; neither should pay for Ibis, pandas, SciPy and the CLV
fitter before a feature is built.
"""

from __future__ import annotations

from features.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "lazy_exports": "features.lazy",
    "BEHAVIOURAL_V2": "features.behavioural_v2_set",
    "behavioural_v2": "features.behavioural_v2_set",
    "resolve_v2": "features.behavioural_v2_set",
    "cohort_retention": "features.cohorts",
    "WindowConfig": "features.config",
    "EventContractError": "features.contract",
    "RowCountSummary": "features.contract",
    "ACTIVE_FLAG": "features.definitions",
    "as_naive_utc": "features.contract",
    "build_features": "features.definitions",
    "CORE_FEATURES": "features.definitions",
    "FEATURE_SET": "features.definitions",
    "FeatureSet": "features.definitions",
    "check_engine": "features.engines",
    "connect": "features.engines",
    "ENGINES": "features.engines",
    "to_frame": "features.engines",
    "feature_groups": "features.feature_sets",
    "feature_set": "features.feature_sets",
    "feature_set_union": "features.feature_sets",
    "FEATURE_SETS": "features.feature_sets",
    "resolve_feature_set": "features.feature_sets",
    "ImportProfile": "features.import_profile",
    "load_import_profile": "features.import_profile",
    "parse_column_mapping": "features.import_profile",
    "build_outcomes": "features.labels",
    "LABEL_COLUMNS": "features.labels",
    "labels_unseen": "features.labels",
    "from_frame": "features.loading",
    "load_events": "features.loading",
    "LoadedEvents": "features.loading",
    "LoadReport": "features.loading",
    "non_purchase_events": "features.log_kind",
    "check_output_path": "features.output",
    "private_folder": "features.output",
    "temporary_beside": "features.output",
    "write_frame": "features.output",
    "write_text": "features.output",
    "feature_frame": "features.pipeline",
    "feature_table": "features.pipeline",
    "EventProfile": "features.profile",
    "profile_events": "features.profile",
    "find_row_issues": "features.row_issues",
    "ISSUE_COLUMNS": "features.row_issues",
    "RowIssues": "features.row_issues",
    "read_feature_table": "features.spark_table",
    "spark_features": "features.spark_table",
    "write_feature_table": "features.spark_table",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
