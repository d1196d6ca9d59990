"""Monitoring: realised quality of past scores, drift against a reference profile, data health.

It sits between `training` and `serving`: it reads the same metric functions training reports
(`training.churn_metrics`, `training.value_metrics`) and the feature set from `features`, and
never imports `serving` or the CLI, so both of them (and `retain retrain`) can build on it.
Everything here is a pure function or a typed value; MLflow, files of scores and the command
line are wired in by the callers. The reference profile and PSI bins live one layer down, in
`training` (which logs a profile with every model and may not import this package); they are
re-exported here so monitoring code reads them under one name.

Why lazy exports (PEP 562): the CLI registers `retain monitor` and `retain retrain` at start-up;
importing this package must not pull in scikit-learn, SciPy and MLflow before a command runs.
"""

from __future__ import annotations

from features import lazy_exports

_EXPORTS: dict[str, str] = {
    "Band": "monitoring.config",
    "load_thresholds": "monitoring.config",
    "MonitorConfigError": "monitoring.config",
    "MonitorThresholds": "monitoring.config",
    "column_drift": "monitoring.drift",
    "ColumnDrift": "monitoring.drift",
    "daily_event_counts": "monitoring.drift",
    "data_health": "monitoring.drift",
    "drift_report": "monitoring.drift",
    "freshness_check": "monitoring.drift",
    "rejected_check": "monitoring.drift",
    "volume_check": "monitoring.drift",
    "daily_counts_in_engine": "monitoring.event_health_checks",
    "event_health": "monitoring.event_health_checks",
    "compare_with_training": "monitoring.realised",
    "equal_mass_ece": "monitoring.realised",
    "HEADLINE_FIGURES": "monitoring.headline",
    "labels_complete": "monitoring.realised",
    "labels_complete_on": "monitoring.realised",
    "realised_metrics": "monitoring.realised",
    "realised_quality": "monitoring.realised",
    "RealisedQuality": "monitoring.realised",
    "MonitorReport": "monitoring.report",
    "PendingRun": "monitoring.report",
    "retrain": "monitoring.retraining",
    "RetrainBusyError": "monitoring.retraining",
    "RetrainReport": "monitoring.retraining",
    "Check": "monitoring.status",
    "exit_code": "monitoring.status",
    "grade": "monitoring.status",
    "Status": "monitoring.status",
    "STATUSES": "monitoring.status",
    "worst_status": "monitoring.status",
    "log_monitor_run": "monitoring.tracking",
    "monitor_metrics": "monitoring.tracking",
    "MONITORING_EXPERIMENT": "monitoring.tracking",
    "REPORT_ARTIFACT": "monitoring.tracking",
    "categorical_profile": "training",
    "CategoricalProfile": "training",
    "column_profile": "training",
    "ColumnProfile": "training",
    "numeric_profile": "training",
    "NumericProfile": "training",
    "PROFILE_ARTIFACT": "training",
    "PROFILE_VERSION": "training",
    "ProfileError": "training",
    "psi": "training",
    "ReferenceProfile": "training",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
