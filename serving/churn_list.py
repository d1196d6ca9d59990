"""The operator's churn list: scored users filtered by segment, risk and action, best first.

Why its own module: the CLI (`retain churn-list`) and the service's churn-list endpoint must
filter and rank identically, so an operator gets the same list from either. Ranking by
expected gain puts first the users where an action pays most; by risk, the likeliest leavers;
by value at risk (churn probability × predicted value), the money most likely to walk away.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from serving.segments import STAGES, TIERS

SortKey = Literal["gain", "risk", "value_at_risk"]
SORT_KEYS: tuple[str, ...] = ("gain", "risk", "value_at_risk")
LIST_COLUMNS: tuple[str, ...] = (
    "rank",
    "user_id",
    "churn_probability",
    "predicted_value",
    "value_at_risk",
    "lifecycle_stage",
    "value_tier",
    "action",
    "expected_gain",
    "action_cost",
    "reasons",
)
_SORT_COLUMNS: dict[str, list[str]] = {
    "gain": ["expected_gain", "churn_probability", "value_at_risk"],
    "risk": ["churn_probability", "value_at_risk", "expected_gain"],
    "value_at_risk": ["value_at_risk", "churn_probability", "expected_gain"],
}
MAX_TOP = 1_000_000


class ChurnListQuery(BaseModel):
    """Which users, in which order, how many. Empty filters mean "any"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    min_risk: float = Field(0.0, ge=0, le=1)
    top: int = Field(100, ge=1, le=MAX_TOP)
    sort_by: SortKey = "gain"

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


def churn_list(
    scores: pd.DataFrame,
    query: ChurnListQuery | None = None,
    known_actions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The top users of a score table (SCORE_COLUMNS) matching the query, ranked from 1.

    Ties are broken by the next sort columns and finally by user id, so the same scores always
    give the same list.
    """
    query = query or ChurnListQuery()
    chosen = scores.loc[matching(scores, query, known_actions)].assign(
        value_at_risk=lambda frame: frame["churn_probability"] * frame["predicted_value"]
    )
    order = _SORT_COLUMNS[query.sort_by]
    ranked = chosen.sort_values(
        [*order, "user_id"], ascending=[False] * len(order) + [True], kind="stable"
    ).head(query.top)
    ranked = ranked.reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    # A holdout run (serving/holdout.py) keeps its arms and cutoff: the list is a campaign log.
    holdout = ["as_of", "assignment"] if "assignment" in ranked.columns else []
    return ranked[[*LIST_COLUMNS, *holdout]]
