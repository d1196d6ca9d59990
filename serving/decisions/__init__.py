"""What to do about each user: lifecycle stages and value tiers, the action catalogue, the
expected-gain policy and its optimal allocation, contact history (cooldowns, frequency caps),
randomised holdouts and the reason codes operators read.

Why a package of its own: every path that decides (batch scoring on either engine, re-deciding
from a score file, the service) calls these functions, so the economics live in one place.
"""

from __future__ import annotations

from serving.decisions.actions import (
    NO_ACTION,
    Action,
    ActionCatalogue,
    CatalogueError,
    EffectSpec,
    load_catalogue,
    parse_catalogue,
)
from serving.decisions.allocation_stream import StreamedAllocation
from serving.decisions.campaign_log import (
    ACTION_ID,
    CONTROL,
    CUTOFF,
    DECISION_ALIASES,
    GROUP,
    SEGMENT,
    STAGE,
    TIER,
    TREATED,
    USER_ID,
    CampaignLog,
    CampaignLogError,
    load_campaigns,
    read_log_file,
    text_column,
    utc_naive,
    validate_campaigns,
)
from serving.decisions.churn_list import (
    ChurnListQuery,
    SortKey,
    action_plan,
    churn_list,
    matching,
    split_list,
    value_at_risk,
)
from serving.decisions.contacts import ContactHistory, load_contacts
from serving.decisions.decision_summary import DecisionSummary
from serving.decisions.explanations import LOWERS, RAISES, explain_contributions
from serving.decisions.holdout import (
    ASSIGNMENT,
    HoldoutConfig,
    arm_counts,
    assign_holdout,
    with_holdout,
)
from serving.decisions.holdout_plan import plan_decisions
from serving.decisions.policy import (
    DECISION_COLUMNS,
    DECISION_REASONS,
    DECISIONS_ATTR,
    USER_COLUMNS,
    decide,
    decide_run,
)
from serving.decisions.reason_families import FAMILY_LABELS, SIGNALS, Signal
from serving.decisions.reason_wording import describe
from serving.decisions.reasons import (
    LOW_RISK_TEXT,
    joined_reason_codes,
    reason_codes,
    typical_values,
)
from serving.decisions.segment_config import (
    SEGMENTATION_ATTR,
    Segmentation,
    load_segmentation,
    stored_threshold,
)
from serving.decisions.segments import (
    STAGES,
    TIERS,
    SegmentConfig,
    TierConfig,
    ValueTiers,
    assign_stages,
)

__all__ = [
    "ACTION_ID",
    "ASSIGNMENT",
    "CONTROL",
    "CUTOFF",
    "DECISIONS_ATTR",
    "DECISION_ALIASES",
    "DECISION_COLUMNS",
    "DECISION_REASONS",
    "FAMILY_LABELS",
    "GROUP",
    "LOWERS",
    "LOW_RISK_TEXT",
    "NO_ACTION",
    "RAISES",
    "SEGMENT",
    "SEGMENTATION_ATTR",
    "SIGNALS",
    "STAGE",
    "STAGES",
    "TIER",
    "TIERS",
    "TREATED",
    "USER_COLUMNS",
    "USER_ID",
    "Action",
    "ActionCatalogue",
    "CampaignLog",
    "CampaignLogError",
    "CatalogueError",
    "ChurnListQuery",
    "ContactHistory",
    "DecisionSummary",
    "EffectSpec",
    "HoldoutConfig",
    "SegmentConfig",
    "Segmentation",
    "Signal",
    "SortKey",
    "StreamedAllocation",
    "TierConfig",
    "ValueTiers",
    "action_plan",
    "arm_counts",
    "assign_holdout",
    "assign_stages",
    "churn_list",
    "decide",
    "decide_run",
    "describe",
    "explain_contributions",
    "joined_reason_codes",
    "load_campaigns",
    "load_catalogue",
    "load_contacts",
    "load_segmentation",
    "matching",
    "parse_catalogue",
    "plan_decisions",
    "read_log_file",
    "reason_codes",
    "split_list",
    "stored_threshold",
    "text_column",
    "typical_values",
    "utc_naive",
    "validate_campaigns",
    "value_at_risk",
    "with_holdout",
]
