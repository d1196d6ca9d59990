"""Serving: segments, actions, decisions and the BentoML service (issue 4)."""

from serving.actions import (
    NO_ACTION,
    Action,
    ActionCatalogue,
    CatalogueError,
    EffectSpec,
    load_catalogue,
    parse_catalogue,
)
from serving.policy import DECISION_REASONS, decide
from serving.reasons import LOW_RISK_TEXT, describe, reason_codes
from serving.segments import (
    STAGES,
    TIERS,
    SegmentConfig,
    TierConfig,
    ValueTiers,
    assign_stages,
)

__all__ = [
    "DECISION_REASONS",
    "LOW_RISK_TEXT",
    "NO_ACTION",
    "STAGES",
    "TIERS",
    "Action",
    "ActionCatalogue",
    "CatalogueError",
    "EffectSpec",
    "SegmentConfig",
    "TierConfig",
    "ValueTiers",
    "assign_stages",
    "decide",
    "describe",
    "load_catalogue",
    "parse_catalogue",
    "reason_codes",
]
