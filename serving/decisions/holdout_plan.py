"""Decisions with a randomised control group that spends neither budget nor capacity.

The rule, and why. Control users are not contacted, so they cost nothing and take no slot of
an action's capacity. If the holdout were drawn after an ordinary allocation, a 10% holdout
would silently leave 10% of the budget and of every capacity unused (and the operator would
contact fewer users than planned). So the plan is made for the *treated* arm:

1. allocate with every capacity and the budget widened by 1 / (1 − share) (capacities rounded
   down), so that after the holdout the treated users fill the real limits;
2. draw the holdout exactly as `serving.decisions.holdout.assign_holdout` does (round(share × n) of
each
   action's n targets, by a reproducible hash);
3. the treated arm then fits every capacity by construction (n − round(share·n) ≤ capacity),
   but per-action rounding can overshoot the budget by up to half a contact per action: the
   treated users with the lowest expected gain are then dropped (decision `budget_exhausted`)
   until the spend fits.

Controls keep the action they would have got and its cost per contact (it is what the campaign
measures), though nothing is spent on them. The summary counts the treated arm only; its upper
bound is the LP bound of the real limits without a holdout, so `share_of_bound` also shows what
the experiment costs in expected gain.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from serving.decisions.actions import NO_ACTION, ActionCatalogue
from serving.decisions.contacts import ContactBlocks
from serving.decisions.decision_summary import DecisionSummary
from serving.decisions.holdout import (
    ASSIGNMENT,
    NOT_TARGETED,
    TREATED,
    HoldoutConfig,
    assign_holdout,
)
from serving.decisions.policy import decide_run


def widened(catalogue: ActionCatalogue, share: float) -> ActionCatalogue:
    """The catalogue with every capacity scaled by 1 / (1 − share), rounded down."""
    actions = [
        action
        if action.capacity is None
        else action.model_copy(update={"capacity": math.floor(action.capacity / (1 - share))})
        for action in catalogue.actions
    ]
    return catalogue.model_copy(update={"actions": actions})


def _fit_budget(frame: pd.DataFrame, treated: np.ndarray, budget: float | None) -> np.ndarray:
    """Treated rows to drop (lowest gain first) until the treated spend fits the budget."""
    drop = np.zeros(len(frame), dtype=bool)
    if budget is None:
        return drop
    cost = frame["action_cost"].to_numpy()
    over = float(cost[treated].sum()) - budget
    if over <= 1e-9:
        return drop
    rows = np.flatnonzero(treated & (cost > 0))
    rows = rows[np.argsort(frame["expected_gain"].to_numpy()[rows], kind="stable")]
    freed = np.cumsum(cost[rows])
    drop[rows[: int(np.searchsorted(freed, over - 1e-9)) + 1]] = True
    return drop


def decide_with_holdout(
    users: pd.DataFrame,
    catalogue: ActionCatalogue,
    holdout: HoldoutConfig,
    as_of: pd.Timestamp | None,
    *,
    budget: float | None = None,
    blocks: ContactBlocks | None = None,
) -> tuple[pd.DataFrame, DecisionSummary]:
    """Decisions plus an `assignment` column (treated / control / none); see the module doc."""
    scale = 1.0 / (1.0 - holdout.share)
    wide = decide_run(
        users,
        widened(catalogue, holdout.share),
        budget=None if budget is None else budget * scale,
        blocks=blocks,
    )
    frame = wide.frame.assign(as_of=as_of)
    assignment = assign_holdout(frame, holdout).to_numpy(dtype=object)
    treated = assignment == TREATED
    drop = _fit_budget(frame, treated, budget)
    if drop.any():
        frame.loc[drop, ["action", "decision_reason"]] = [NO_ACTION, "budget_exhausted"]
        frame.loc[drop, ["expected_gain", "action_cost"]] = 0.0
        assignment[drop] = NOT_TARGETED
        treated &= ~drop
    frame = frame.drop(columns="as_of").assign(**{ASSIGNMENT: assignment.astype(str)})
    bound = decide_run(users, catalogue, budget=budget, blocks=blocks).summary.upper_bound
    acted = frame.loc[treated]
    summary = replace(
        wide.summary,
        contacted=int(treated.sum()),
        cost=float(acted["action_cost"].sum()),
        achieved_gain=float(acted["expected_gain"].sum()),
        upper_bound=bound,
        by_action={str(k): int(v) for k, v in acted["action"].value_counts().sort_index().items()},
        budget=budget,
        method=f"{wide.summary.method}, treated arm of a {holdout.share:.0%} holdout",
    )
    return frame, summary


def plan_decisions(
    users: pd.DataFrame,
    catalogue: ActionCatalogue,
    *,
    budget: float | None = None,
    blocks: ContactBlocks | None = None,
    holdout: HoldoutConfig | None = None,
    as_of: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, DecisionSummary]:
    """The allocation every path uses: `decide_run`, or with a holdout `decide_with_holdout`
    (then the frame has an `assignment` column)."""
    if holdout is None:
        run = decide_run(users, catalogue, budget=budget, blocks=blocks)
        return run.frame, run.summary
    return decide_with_holdout(users, catalogue, holdout, as_of, budget=budget, blocks=blocks)
