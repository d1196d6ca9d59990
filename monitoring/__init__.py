"""Monitoring: realised quality of past scores, drift against a reference profile, data health.

It sits between `training` and `serving`: it reads the same metric functions training reports
(`training.churn_metrics`, `training.value_metrics`) and the feature set from `features`, and
never imports `serving` or the CLI, so both of them (and `retain retrain`) can build on it.
Everything here is a pure function or a typed value; MLflow, files of scores and the command
line are wired in by the callers.
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
from monitoring.profile import ARTIFACT_NAME, PROFILE_VERSION, ProfileError, ReferenceProfile
from monitoring.psi import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    categorical_profile,
    column_profile,
    numeric_profile,
    psi,
)
from monitoring.realised import (
    RealisedQuality,
    compare_with_training,
    equal_mass_ece,
    labels_complete,
    labels_complete_on,
    realised_metrics,
    realised_quality,
)
from monitoring.report import MonitorReport, PendingRun
from monitoring.status import STATUSES, Check, Status, exit_code, grade, worst_status

__all__ = [
    "ARTIFACT_NAME",
    "PROFILE_VERSION",
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
    "Status",
    "categorical_profile",
    "column_drift",
    "column_profile",
    "compare_with_training",
    "daily_event_counts",
    "data_health",
    "drift_report",
    "equal_mass_ece",
    "exit_code",
    "freshness_check",
    "grade",
    "labels_complete",
    "labels_complete_on",
    "load_thresholds",
    "numeric_profile",
    "psi",
    "realised_metrics",
    "realised_quality",
    "rejected_check",
    "volume_check",
    "worst_status",
]
