"""Deciding again from a score file, with another catalogue, budget or contact history.

Why: an operator who halves the budget or edits the playbook should not need the models, the
events or an hour of scoring to see the new plan. The scores (churn probability, value at stake,
stage, tier) do not depend on those settings, so the decisions can be remade from the file
alone, with exactly the economics `retain score` uses (serving/decisions/policy.py).
"""

from __future__ import annotations

import pandas as pd

from serving.decisions import (
    ASSIGNMENT,
    DECISION_COLUMNS,
    ActionCatalogue,
    ContactHistory,
    DecisionSummary,
    HoldoutConfig,
    plan_decisions,
)


def redecide(
    scores: pd.DataFrame,
    catalogue: ActionCatalogue,
    *,
    budget: float | None = None,
    contacts: ContactHistory | None = None,
    holdout: HoldoutConfig | None = None,
) -> tuple[pd.DataFrame, DecisionSummary]:
    """The score table with its decision columns remade; the run's summary beside it.

    With `holdout`, controls spend neither budget nor capacity (serving/decisions/holdout_plan.py).
    A table that already has a holdout assignment is refused: its arms were drawn over its own
    decisions, and keeping them beside new decisions would make a campaign log that lies.
    """
    if ASSIGNMENT in scores.columns:
        raise ValueError(
            "the score file has a holdout assignment drawn over its own decisions; deciding "
            "again would leave arms that no longer match the actions (score without a holdout, "
            "or keep the file's decisions)"
        )
    as_of = pd.Timestamp(scores["as_of"].iloc[0]) if len(scores) else None
    blocks = None
    if contacts is not None:
        if as_of is None:
            raise ValueError("the score file is empty; there is nobody to decide for")
        blocks = contacts.blocks(pd.Index(scores["user_id"].astype(str)), catalogue, as_of)
    remade = scores.copy()
    decided, summary = plan_decisions(
        scores, catalogue, budget=budget, blocks=blocks, holdout=holdout, as_of=as_of
    )
    if holdout is not None:
        remade[ASSIGNMENT] = decided[ASSIGNMENT].to_numpy()
    for column in DECISION_COLUMNS[1:]:
        remade[column] = decided[column].to_numpy()
    return remade, summary
