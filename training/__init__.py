"""Training: LightGBM churn, recall and value models, out-of-time evaluation, MLflow, Optuna,
the registry, and the reference profile (PSI bins) logged with every model for drift checks.

Why lazy exports: importing `training` (as MLflow does when it unpickles an estimator in a
serving process) must stay cheap and free of side effects, so the names below are resolved
from their modules on first use (PEP 562) instead of importing MLflow, Optuna and the feature
engine up front.
"""

from __future__ import annotations

from features import lazy_exports

_EXPORTS: dict[str, str] = {
    "BacktestResult": "training.backtesting",
    "backtest": "training.backtesting",
    "ConfigError": "training.config",
    "ExperimentConfig": "training.config",
    "MODEL_KINDS": "training.config",
    "ModelKind": "training.config",
    "load_config": "training.config",
    "write_config": "training.config",
    "TrainingData": "training.datasets",
    "build_training_data": "training.datasets",
    "cutoff_schedule": "training.datasets",
    "data_fingerprint": "training.datasets",
    "lost_outcome": "training.datasets",
    "ChurnClassifier": "training.estimators",
    "RecallClassifier": "training.estimators",
    "ValueRegressor": "training.estimators",
    "HEADLINE": "training.evaluation",
    "evaluate": "training.evaluation",
    "churn_metrics": "training.metrics",
    "value_metrics": "training.metrics",
    "PromotionDecision": "training.promotion",
    "promote": "training.promotion",
    "rollback": "training.promotion",
    "CategoricalProfile": "training.psi_bins",
    "ColumnProfile": "training.psi_bins",
    "NumericProfile": "training.psi_bins",
    "categorical_profile": "training.psi_bins",
    "column_profile": "training.psi_bins",
    "numeric_profile": "training.psi_bins",
    "psi": "training.psi_bins",
    "json_object": "training.json_documents",
    "run_evaluation": "training.real_data",
    "calibration_line": "training.real_data_report",
    "comparison_rows": "training.real_data_report",
    "format_cell": "training.real_data_report",
    "log_evaluation": "training.real_data_report",
    "to_markdown": "training.real_data_report",
    "PROFILE_ARTIFACT": "training.reference_profile",
    "PROFILE_VERSION": "training.reference_profile",
    "ProfileError": "training.reference_profile",
    "ReferenceProfile": "training.reference_profile",
    "ModelInfo": "training.registry",
    "REGISTERED_NAMES": "training.registry",
    "champion_version": "training.registry",
    "load_champion": "training.registry",
    "load_model": "training.registry",
    "model_info": "training.registry",
    "model_uri": "training.registry",
    "TrainResult": "training.runs",
    "skipped_figures": "training.runs",
    "configure": "training.tracking",
    "finite": "training.tracking",
    "flatten": "training.tracking",
    "provenance_tags": "training.tracking",
    "quiet_mlflow": "training.tracking",
    "resolve_tracking_uri": "training.tracking",
    "sqlite_path": "training.tracking",
    "train_models": "training.train",
    "TuneResult": "training.tuning",
    "tune": "training.tuning",
    "MIN_TIER_VALUE": "training.value_model",
    "tier_percentiles": "training.value_model",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
