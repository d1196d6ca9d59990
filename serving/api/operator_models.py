"""Request and response models of the two endpoints the operator page added: the budget
what-if (`/what_if`) and the change in risk since the previous snapshot (`/risk_change`).

Why a module beside `serving.api.models`: the same typed boundary (unknown fields, wrong types
and out-of-range numbers are a 4xx naming the field), kept apart so each module stays one
readable page; the plan rows and decision facts are `serving.api.models`' own.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from serving.api.models import (
    MAX_IDS,
    MAX_LIST_ROWS,
    ActionPlanRow,
    DecisionFacts,
    Status,
    StrictFloat,
    StrictInt,
    UserId,
    _Strict,
)


class WhatIfRequest(_Strict):
    """`{"budget": x}`: the served snapshot decided again with this total budget (null: none).

    Nothing is saved; `top` is how many of the new plan's rows come back (by expected gain).
    """

    budget: StrictFloat | None = Field(..., ge=0, allow_inf_nan=False)
    top: StrictInt = Field(20, ge=1, le=MAX_LIST_ROWS)


class ActionTotals(BaseModel):
    """One action in the what-if plan beside the served plan: contacts, cost, expected gain."""

    action: str
    label: str
    users: int
    cost: float
    expected_gain: float
    served_users: int
    served_cost: float
    served_expected_gain: float


class WhatIfResponse(BaseModel):
    """The plan another budget buys, with the same scores and economics (`basis` says which).

    `plan` is the new run's summary (contacted, cost, expected gain, upper bound); `served` the
    served plan's (null for a score file written without it); `rows` the new plan's first rows.
    """

    as_of: datetime | None
    basis: str
    plan: DecisionFacts
    served: DecisionFacts | None = None
    by_action: list[ActionTotals]
    rows: list[ActionPlanRow]


class RiskChangeRequest(_Strict):
    """Optional ids whose own change to report, and how many of the largest rises to list."""

    user_ids: list[UserId] = Field(default_factory=list, max_length=MAX_IDS)
    top: StrictInt = Field(10, ge=0, le=MAX_LIST_ROWS)


class PreviousSnapshotInfo(BaseModel):
    """The snapshot this worker served before the current one."""

    as_of: datetime | None
    source: str  # the file or folder name it was read from (no server path)
    loaded_at: datetime
    model_versions: dict[str, str | None]
    users: int


class StageRisk(BaseModel):
    """One lifecycle stage now: users, their risks binned, the mean, and the mean change of
    those also scored in the previous run."""

    stage: str
    users: int
    counts: list[int]
    mean_risk: float | None
    compared: int
    mean_change: float | None


class RiskMove(BaseModel):
    """One user's churn probability now and in the previous run (null: not compared)."""

    user_id: str
    status: Status
    lifecycle_stage: str | None = None
    churn_probability: float | None = None
    previous_churn_probability: float | None = None
    change: float | None = None


class RiskChangeResponse(BaseModel):
    """The risk distribution now (by stage, in `bins`) and how it moved since the previous run.

    `previous` is null when this worker has served no other snapshot since it started (then
    `message` says so and nothing is compared); `risen`/`fallen` count compared users whose
    risk moved by at least `notable_change`; `unscored` users have no churn probability.
    """

    as_of: datetime | None
    previous: PreviousSnapshotInfo | None = None
    message: str
    bins: list[float]
    users: int
    unscored: int
    by_stage: list[StageRisk]
    previous_counts: list[int] | None = None
    compared: int
    new_users: int
    gone_users: int
    notable_change: float
    risen: int
    fallen: int
    mean_change: float | None = None
    largest_increases: list[RiskMove]
    items: list[RiskMove]
