"""The budget what-if: the served snapshot decided again under another budget, nothing saved.

Why here and why this way: an operator who wonders "what if we spent 200 instead of 400" should
see the plan that budget buys without rescoring anyone. The scores do not depend on the budget,
so `serving.scoring.redecide` (what `retain churn-list --scores … --budget` uses) remakes only
the decisions, with the service's own playbook (learned effects included) and contact history
(cooldowns, frequency cap), i.e. the economics the served plan was made with: asking for the
served budget gives back the served plan. Nothing changes for the other endpoints; the answer
lives only in the response.

A score file served as is (RETAIN_SCORES) was decided elsewhere: the service knows neither its
playbook nor its contact history, so it re-decides with the packaged (or RETAIN_CATALOGUE)
playbook and no history, and `basis` says so. A score file with a holdout assignment is refused
by `redecide` (its arms belong to its own decisions); the endpoint answers 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from serving.decisions import NO_ACTION, ChurnListQuery, DecisionSummary, action_plan
from serving.scoring import redecide

if TYPE_CHECKING:
    from serving.api.state import ServingState

_FROM_EVENTS = "the served playbook, effects and contact history, as the served plan"
_FROM_FILE = (
    "the service's playbook and no contact history: the served score file was decided "
    "elsewhere, with a playbook and history the service does not know"
)


@dataclass(frozen=True)
class WhatIfPlan:
    """The re-decided plan: its summary, the totals by action, its first rows (a frame)."""

    basis: str
    summary: DecisionSummary
    by_action: list[dict[str, Any]]
    rows: pd.DataFrame


def _totals(scores: pd.DataFrame) -> pd.DataFrame:
    """Contacted users, cost and expected gain per action (no_action left out)."""
    contacted = scores.loc[scores["action"] != NO_ACTION]
    return contacted.groupby("action").agg(
        users=("user_id", "size"), cost=("action_cost", "sum"), gain=("expected_gain", "sum")
    )


def _by_action(state: ServingState, remade: pd.DataFrame) -> list[dict[str, Any]]:
    """Per action with contacts in either plan: the what-if's figures beside the served ones."""
    new, served = _totals(remade), _totals(state.snapshot.scores)
    known = list(state.catalogue.ids)
    ids = [a for a in known if a in new.index or a in served.index]
    ids += sorted(a for a in {*new.index, *served.index} if a not in known)
    rows = []
    for action_id in ids:
        label = state.catalogue.get(action_id).label if action_id in known else action_id
        mine = new.loc[action_id] if action_id in new.index else None
        was = served.loc[action_id] if action_id in served.index else None
        rows.append(
            {
                "action": action_id,
                "label": label,
                "users": 0 if mine is None else int(mine.users),
                "cost": 0.0 if mine is None else float(mine.cost),
                "expected_gain": 0.0 if mine is None else float(mine.gain),
                "served_users": 0 if was is None else int(was.users),
                "served_cost": 0.0 if was is None else float(was.cost),
                "served_expected_gain": 0.0 if was is None else float(was.gain),
            }
        )
    return rows


def plan_with_budget(
    state: ServingState, budget: float | None, top: int, *, score_file: bool
) -> WhatIfPlan:
    """Decide the served snapshot again with `budget` (None: no budget), its first `top` rows.

    `score_file`: the snapshot is a score file served as is (RETAIN_SCORES). Raises ValueError
    when the served table cannot be re-decided (a holdout assignment).
    """
    remade, summary = redecide(
        state.snapshot.scores, state.catalogue, budget=budget, contacts=state.contacts
    )
    return WhatIfPlan(
        basis=_FROM_FILE if score_file else _FROM_EVENTS,
        summary=summary,
        by_action=_by_action(state, remade),
        rows=action_plan(remade, ChurnListQuery(top=top), state.catalogue.ids),
    )
