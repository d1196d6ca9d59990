"""The operators' two lists: the churn list and the action plan, filtered and ranked.

- The **churn list** answers "whom are we about to lose, and what is it worth": by default
  ranked by value at risk = churn probability × value at stake (the revenue expected to walk
  away); by risk, the likeliest leavers; by gain, the users where an action pays most.
- The **action plan** answers "whom do we contact, with what, at what cost and gain": only
  users with an action, ranked by expected gain.

Why one module: the CLI (`retain churn-list`, `retain action-plan`), the service's endpoints
and the operator page must filter and rank identically, so an operator gets the same list from
any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from serving.decisions.actions import NO_ACTION
from serving.decisions.segments import STAGES, TIERS

SortKey = Literal["value_at_risk", "risk", "gain"]
SORT_KEYS: tuple[str, ...] = ("value_at_risk", "risk", "gain")
LIST_COLUMNS: tuple[str, ...] = (
    "rank",
    "user_id",
    "churn_probability",
    "value_at_stake",
    "value_at_risk",
    "predicted_value",
    "lifecycle_stage",
    "value_tier",
    "action",
    "expected_gain",
    "action_cost",
    "reasons",
)
PLAN_COLUMNS: tuple[str, ...] = (
    "rank",
    "user_id",
    "action",
    "action_cost",
    "expected_gain",
    "churn_probability",
    "value_at_stake",
    "lifecycle_stage",
    "value_tier",
    "decision_reason",
    "reasons",
)
_SORT_COLUMNS: dict[str, list[str]] = {
    "gain": ["expected_gain", "churn_probability", "value_at_risk"],
    "risk": ["churn_probability", "value_at_risk", "expected_gain"],
    "value_at_risk": ["value_at_risk", "churn_probability", "expected_gain"],
}
_PLAN_ORDER = ["expected_gain", "value_at_risk", "churn_probability"]


def value_at_risk(scores: pd.DataFrame) -> pd.Series:
    """Churn probability × value at stake: the revenue expected to leave with the user."""
    return scores["churn_probability"] * scores["value_at_stake"]


class ChurnListQuery(BaseModel):
    """Which users, in which order, how many. Empty filters mean "any"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    min_risk: float = Field(0.0, ge=0, le=1)
    top: int | None = Field(100, ge=1, description="Rows in the list; None lists every user.")
    sort_by: SortKey = "value_at_risk"

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value, STAGES, "stage")

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value, TIERS, "tier")


def _known(values: Sequence[str], allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """A typo in a filter must fail loudly, not return an empty list that looks like good news."""
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; choose from {list(allowed)}")
    return tuple(values)


def split_list(text: str | None) -> tuple[str, ...]:
    """`"at_risk, dormant"` → `("at_risk", "dormant")` for the comma-separated CLI flags."""
    if not text:
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())


def matching(
    scores: pd.DataFrame, query: ChurnListQuery, known_actions: Sequence[str] | None = None
) -> np.ndarray:
    """Boolean mask of the score rows that pass every filter of the query.

    `known_actions` (the catalogue's ids) turns an action-name typo into an error.
    """
    if known_actions is not None:
        _known(query.actions, known_actions, "action")
    keep = scores["churn_probability"].to_numpy(dtype=float, na_value=np.nan) >= query.min_risk
    for column, allowed in (
        ("lifecycle_stage", query.stages),
        ("value_tier", query.tiers),
        ("action", query.actions),
    ):
        if allowed:
            keep &= scores[column].isin(allowed).to_numpy()
    return keep


def _ranked(frame: pd.DataFrame, order: list[str], top: int | None) -> pd.DataFrame:
    """Sort highest first, ties by the next columns and finally by user id; number from 1."""
    ranked = frame.sort_values(
        [*order, "user_id"], ascending=[False] * len(order) + [True], kind="stable"
    )
    ranked = (ranked if top is None else ranked.head(top)).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


def _holdout_columns(frame: pd.DataFrame) -> list[str]:
    """A holdout run (serving/decisions/holdout.py) keeps its arms and cutoff: the list is a
    campaign log."""
    return ["as_of", "assignment"] if "assignment" in frame.columns else []


def churn_list(
    scores: pd.DataFrame,
    query: ChurnListQuery | None = None,
    known_actions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Whom we are about to lose: the top users matching the query, ranked from 1.

    Ties are broken by the next sort columns and finally by user id, so the same scores always
    give the same list.
    """
    query = query or ChurnListQuery()
    chosen = scores.loc[matching(scores, query, known_actions)]
    chosen = chosen.assign(value_at_risk=value_at_risk(chosen))
    ranked = _ranked(chosen, _SORT_COLUMNS[query.sort_by], query.top)
    return ranked[[*LIST_COLUMNS, *_holdout_columns(ranked)]]


def action_plan(
    scores: pd.DataFrame,
    query: ChurnListQuery | None = None,
    known_actions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Whom we contact: users with an action, by expected gain (the query's sort is ignored)."""
    query = query or ChurnListQuery()
    keep = matching(scores, query, known_actions) & (scores["action"] != NO_ACTION).to_numpy()
    chosen = scores.loc[keep]
    chosen = chosen.assign(value_at_risk=value_at_risk(chosen))
    ranked = _ranked(chosen, _PLAN_ORDER, query.top)
    return ranked[[*PLAN_COLUMNS, *_holdout_columns(ranked)]]
