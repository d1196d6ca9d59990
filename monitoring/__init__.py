"""Monitoring: realised quality of past scores, drift against a reference profile, data health.

It sits between `training` and `serving`: it reads the same metric functions training reports
(`training.churn_metrics`, `training.value_metrics`) and the feature set from `features`, and
never imports `serving` or the CLI, so both of them (and `retain retrain`) can build on it.
Everything here is a pure function or a typed value; MLflow, files of scores and the command
line are wired in by the callers. The reference profile and PSI bins live one layer down, in
`training` (which logs a profile with every model and may not import this package); they are
re-exported here so monitoring code reads them under one name.
"""

from monitoring.config import Band, MonitorConfigError, MonitorThresholds, load_thresholds
from monitoring.drift import (
    ColumnDrift,
    column_drift,
    daily_event_counts,
    data_health,
    drift_report,
    freshness_check,
    rejected_check,
    volume_check,
)
from monitoring.event_health import daily_counts_in_engine, event_health
from monitoring.realised import (
    HEADLINE_FIGURES,
    RealisedQuality,
    compare_with_training,
    equal_mass_ece,
    labels_complete,
    labels_complete_on,
    realised_metrics,
    realised_quality,
)
from monitoring.report import MonitorReport, PendingRun
from monitoring.retrain import RetrainBusyError, RetrainReport, retrain
from monitoring.status import STATUSES, Check, Status, exit_code, grade, worst_status
from monitoring.tracking import (
    MONITORING_EXPERIMENT,
    REPORT_ARTIFACT,
    log_monitor_run,
    monitor_metrics,
)
from training import (
    PROFILE_ARTIFACT,
    PROFILE_VERSION,
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ProfileError,
    ReferenceProfile,
    categorical_profile,
    column_profile,
    numeric_profile,
    psi,
)

__all__ = [
    "HEADLINE_FIGURES",
    "MONITORING_EXPERIMENT",
    "PROFILE_ARTIFACT",
    "PROFILE_VERSION",
    "REPORT_ARTIFACT",
    "STATUSES",
    "Band",
    "CategoricalProfile",
    "Check",
    "ColumnDrift",
    "ColumnProfile",
    "MonitorConfigError",
    "MonitorReport",
    "MonitorThresholds",
    "NumericProfile",
    "PendingRun",
    "ProfileError",
    "RealisedQuality",
    "ReferenceProfile",
    "RetrainBusyError",
    "RetrainReport",
    "Status",
    "categorical_profile",
    "column_drift",
    "column_profile",
    "compare_with_training",
    "daily_counts_in_engine",
    "daily_event_counts",
    "data_health",
    "drift_report",
    "equal_mass_ece",
    "event_health",
    "exit_code",
    "freshness_check",
    "grade",
    "labels_complete",
    "labels_complete_on",
    "load_thresholds",
    "log_monitor_run",
    "monitor_metrics",
    "numeric_profile",
    "psi",
    "realised_metrics",
    "realised_quality",
    "rejected_check",
    "retrain",
    "volume_check",
    "worst_status",
]
