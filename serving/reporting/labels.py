"""Words operators read instead of ids: stages, tiers, actions, table columns, metrics, money.

Why one module: the score table speaks in ids (`at_risk`, `habit_nudge`, `expected_gain`,
`roc_auc`); the report's tables, chart axes and legends must all show the same words, and the
same words as the operator page (`serving/api/static/format.js`: "At risk", the playbook's own
action names, "None (no value)"). The currency is part of the words: a money column or axis
names it ("Cost (EUR)"); without one the amounts are shown as the log wrote them, unnamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from serving.decisions import ActionCatalogue

# Columns of the report's tables, in words. Money columns take the currency as a suffix.
COLUMN_LABELS: dict[str, str] = {
    "rank": "Rank",
    "user_id": "User",
    "action": "Action",
    "users": "Users",
    "cost": "Cost",
    "action_cost": "Cost",
    "expected_gain": "Expected gain",
    "churn_probability": "Churn risk",
    "value_at_stake": "Value at stake",
    "lifecycle_stage": "Stage",
    "value_tier": "Value tier",
    "decision_reason": "Why this action",
    "segment": "Segment",
}
MONEY_COLUMNS = frozenset({"cost", "action_cost", "expected_gain", "value_at_stake"})
# Model-quality metric names (training/metrics.py), where a plain humanised id would mislead.
METRIC_LABELS: dict[str, str] = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "lift_at_10": "Lift in the top 10%",
    "recall_at_10": "Recall in the top 10%",
    "ece": "Calibration error (ECE)",
    "brier": "Brier score",
    "mae": "MAE",
    "decile_mape": "Decile MAPE",
    "top10_share": "Value share of the top 10%",
    "spearman": "Spearman rank correlation",
    "gini": "Gini",
    "bias": "Bias",
}
_WORDS = {
    "roc": "ROC", "auc": "AUC", "ece": "ECE", "mape": "MAPE", "mae": "MAE", "oot": "OOT",
    "rfm": "RFM", "logreg": "logistic regression", "vip": "VIP", "lightgbm": "LightGBM",
    "bgnbd": "BG/NBD",
}  # fmt: skip


def humanise(identifier: object) -> str:
    """`at_risk` → "At risk", `recency_rule` → "Recency rule": any id without a better name."""
    words = str(identifier).replace("_", " ").split()
    words = [_WORDS.get(word, word) for word in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def stage_label(stage: str) -> str:
    """A lifecycle stage in words ("At risk"), as the operator page writes it."""
    return humanise(stage)


def tier_label(tier: str) -> str:
    """A value tier in words; `none` is spelled out, since "None" alone reads as missing."""
    return "None (no value)" if tier == "none" else humanise(tier)


def metric_label(name: str) -> str:
    """A model-quality metric in words: `roc_auc` → "ROC-AUC", `retained_mae` → "Retained: MAE",
    `fit_pr_auc` (the stack's candidates on the out-of-time fit half) → "Fit half: PR-AUC"."""
    for group in ("retained", "churned", "lost"):
        if name.startswith(f"{group}_"):
            return f"{humanise(group)}: {metric_label(name.removeprefix(f'{group}_'))}"
    if name.startswith("fit_"):
        return f"Fit half: {metric_label(name.removeprefix('fit_'))}"
    return METRIC_LABELS.get(name) or humanise(name)


def action_names(catalogue: ActionCatalogue) -> dict[str, str]:
    """Action ids to the playbook's own labels ("Habit nudge")."""
    return {action_id: catalogue.get(action_id).label for action_id in catalogue.ids}


@dataclass(frozen=True)
class Wording:
    """How this report names money and actions: the currency and the playbook's action labels.

    `currency` is free text ("EUR", "€", "USD"); empty means the log's own unit, unnamed.
    `action_names` maps action ids to the playbook's labels; an id it lacks is humanised.
    """

    currency: str = ""
    action_names: Mapping[str, str] = field(default_factory=dict)

    def action(self, action_id: str) -> str:
        if action_id == "no_action":
            return self.action_names.get(action_id, "No action")
        return self.action_names.get(action_id) or humanise(action_id)

    def unit(self, text: str) -> str:
        """`text` with the currency in brackets when there is one: "Cost (EUR)"."""
        return f"{text} ({self.currency})" if self.currency else text

    def money(self, amount: float, decimals: int = 2) -> str:
        """An amount as operators read it: "1,003.15 EUR" (just "1,003.15" without a currency)."""
        text = f"{amount:,.{decimals}f}"
        return f"{text} {self.currency}" if self.currency else text

    def column(self, name: str) -> str:
        """A table column in words, with the currency when it holds money."""
        label = COLUMN_LABELS.get(name) or humanise(name)
        return self.unit(label) if name in MONEY_COLUMNS else label
