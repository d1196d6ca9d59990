"""Serving: segments, actions, decisions, scoring, the report and the BentoML service.

Why lazy exports: `retain --help` and the service's worker start-up import this package; the
names below resolve from their modules on first use (PEP 562), so importing `serving` does not
pull in scikit-learn, MLflow or Ibis until something needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "ASSIGNMENT": "serving.decisions",
    "Action": "serving.decisions",
    "ActionCatalogue": "serving.decisions",
    "CampaignLog": "serving.decisions",
    "CampaignLogError": "serving.decisions",
    "CatalogueError": "serving.decisions",
    "ChurnListQuery": "serving.decisions",
    "DECISION_REASONS": "serving.decisions",
    "EffectSpec": "serving.decisions",
    "EffectsConfig": "serving.campaigns",
    "EffectsFileError": "serving.campaigns",
    "EstimationConfig": "serving.campaigns",
    "HoldoutConfig": "serving.decisions",
    "LOW_RISK_TEXT": "serving.decisions",
    "MANIFEST_ARTIFACT": "serving.scoring",
    "ManifestError": "serving.scoring",
    "NO_ACTION": "serving.decisions",
    "RecordedRuns": "serving.scoring",
    "ReportConfig": "serving.reporting",
    "SCORING_EXPERIMENT": "serving.scoring",
    "SERVICE_SNAPSHOT": "serving.scoring",
    "STAGES": "serving.decisions",
    "ScoringConfig": "serving.scoring",
    "ScoringManifest": "serving.scoring",
    "SegmentConfig": "serving.decisions",
    "ServiceSettings": "serving.api",
    "SparkScored": "serving.scoring",
    "TIERS": "serving.decisions",
    "TierConfig": "serving.decisions",
    "TwoModelUplift": "serving.campaigns",
    "VERSION_COLUMNS": "serving.scoring",
    "ValueTiers": "serving.decisions",
    "action_plan": "serving.decisions",
    "arm_counts": "serving.decisions",
    "assign_holdout": "serving.decisions",
    "assign_stages": "serving.decisions",
    "build_effects_file": "serving.campaigns",
    "build_manifest": "serving.scoring",
    "build_report": "serving.reporting",
    "churn_list": "serving.decisions",
    "decide": "serving.decisions",
    "decision_inputs": "serving.api",
    "describe": "serving.decisions",
    "dump_effects": "serving.campaigns",
    "effects_section_for": "serving.reporting",
    "latest_cutoff": "serving.scoring",
    "learn_effects": "serving.campaigns",
    "learned_catalogue": "serving.campaigns",
    "load_campaigns": "serving.decisions",
    "load_catalogue": "serving.decisions",
    "load_champions": "serving.scoring",
    "load_contacts": "serving.decisions",
    "load_effects": "serving.campaigns",
    "load_report_config": "serving.reporting",
    "load_segmentation": "serving.decisions",
    "log_decision_run": "serving.scoring",
    "log_run": "serving.campaigns",
    "model_sections": "serving.reporting",
    "monitoring_section": "serving.reporting",
    "parse_catalogue": "serving.decisions",
    "parse_report_config": "serving.reporting",
    "playbook_names": "serving.reporting",
    "read_monitor_json": "serving.reporting",
    "read_scores": "serving.scoring",
    "reason_codes": "serving.decisions",
    "record_scoring_run": "serving.scoring",
    "recorded_scoring_runs": "serving.scoring",
    "redecide": "serving.scoring",
    "refuse_window_flags": "serving.scoring",
    "score_events": "serving.scoring",
    "score_streamed": "serving.scoring",
    "narrow_scores": "serving.scoring",
    "check_streamable": "serving.scoring",
    "choose_plan": "serving.scoring",
    "count_users": "serving.scoring",
    "score_spark": "serving.scoring",
    "score_summary": "serving.scoring",
    "split_list": "serving.decisions",
    "validate_campaigns": "serving.decisions",
    "value_at_risk": "serving.decisions",
    "with_holdout": "serving.decisions",
    "with_log_scores": "serving.campaigns",
    "write_scores": "serving.scoring",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'serving' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
