"""Serving: segments, actions, decisions, scoring, the report and the BentoML service.

Why lazy exports: `retain --help` and the service's worker start-up import this package; the
names below resolve from their modules on first use (PEP 562), so importing `serving` does not
pull in scikit-learn, MLflow or Ibis until something needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "Action": "serving.actions",
    "ActionCatalogue": "serving.actions",
    "CatalogueError": "serving.actions",
    "DECISION_REASONS": "serving.policy",
    "EffectSpec": "serving.actions",
    "LOW_RISK_TEXT": "serving.reasons",
    "NO_ACTION": "serving.actions",
    "STAGES": "serving.segments",
    "SegmentConfig": "serving.segments",
    "TIERS": "serving.segments",
    "TierConfig": "serving.segments",
    "ValueTiers": "serving.segments",
    "assign_stages": "serving.segments",
    "decide": "serving.policy",
    "describe": "serving.reasons",
    "load_catalogue": "serving.actions",
    "parse_catalogue": "serving.actions",
    "reason_codes": "serving.reasons",
    # Closed loop: campaign logs, holdouts, learned effects (docs/campaigns.md).
    "CampaignLogError": "serving.campaign_log",
    "EffectsFileError": "serving.effects_file",
    "HoldoutConfig": "serving.holdout",
    "TwoModelUplift": "serving.uplift",
    "assign_holdout": "serving.holdout",
    "learn_effects": "serving.effects",
    "learned_catalogue": "serving.effects_file",
    "load_campaigns": "serving.campaign_log",
    "load_effects": "serving.effects_file",
    "validate_campaigns": "serving.campaign_log",
    # Scale-out: batch scoring on Spark (docs/scale-out.md).
    "SparkScored": "serving.spark_scoring",
    "score_spark": "serving.spark_scoring",
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
