"""Request and response models of the HTTP API: the typed service boundary.

Why pydantic with limits: BentoML validates every request body against these models before our
code runs, so malformed JSON, wrong types, empty or oversized id lists and unknown fields are
answered with a 400 and a message that names the field, never with a 500. Unknown user ids are
not bad requests: each gets an item with status `unknown_user`, in request order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from features.definitions import FEATURE_SET
from serving.churn_list import MAX_TOP, ChurnListQuery

MAX_IDS = 10_000
MAX_ID_LENGTH = 256
MAX_LIST_ROWS = 10_000  # the HTTP churn list; bigger lists belong to `retain churn-list`

UserId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
# Numbers are numbers: without Strict, pydantic would read `true` as 1 and `false` as 0.0.
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]  # still accepts a JSON integer (0, 1)
Status = Literal["ok", "unknown_user"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserIdsRequest(_Strict):
    """`{"user_ids": [...]}`: 1 to 10,000 non-empty ids; duplicates are answered twice."""

    user_ids: list[UserId] = Field(min_length=1, max_length=MAX_IDS)


class ExplainRequest(_Strict):
    """One user, and how many contributions to show (largest in absolute size first)."""

    user_id: UserId
    top_k: StrictInt = Field(5, ge=1, le=len(FEATURE_SET.columns))


class ChurnListRequest(ChurnListQuery):
    """The churn-list filters of `retain churn-list`, with a smaller row cap over HTTP."""

    min_risk: StrictFloat = Field(0.0, ge=0, le=1)
    top: StrictInt = Field(100, ge=1, le=min(MAX_LIST_ROWS, MAX_TOP))


class ScoreItem(BaseModel):
    """One user's scores; every score field is null when the status is `unknown_user`."""

    user_id: str
    status: Status
    churn_probability: float | None = None
    predicted_value: float | None = None
    lifecycle_stage: str | None = None
    value_tier: str | None = None


class RecommendItem(ScoreItem):
    """Scores plus the next best action and why (reasons: what pushes churn risk up)."""

    action: str | None = None
    expected_gain: float | None = None
    action_cost: float | None = None
    decision_reason: str | None = None
    reasons: list[str] = Field(default_factory=list)


class SnapshotInfo(BaseModel):
    """Which scoring run the service answers from."""

    as_of: datetime | None
    users: int
    source: str
    model_versions: dict[str, str]


class ScoreResponse(BaseModel):
    """One item per requested id, in request order."""

    as_of: datetime | None
    model_versions: dict[str, str]
    items: list[ScoreItem]


class RecommendResponse(BaseModel):
    """One item per requested id, in request order."""

    as_of: datetime | None
    model_versions: dict[str, str]
    items: list[RecommendItem]


class Contribution(BaseModel):
    """One feature's push on the churn log-odds for this user, in numbers and in words."""

    feature: str
    value: float | None
    contribution: float
    effect: Literal["raises risk", "lowers risk"]
    text: str


class ExplainResponse(BaseModel):
    """Why the churn model rates this user as it does (TreeSHAP on the raw score)."""

    user_id: str
    status: Status
    churn_probability: float | None = None
    lifecycle_stage: str | None = None
    bias: float | None = None
    reasons: list[str] = Field(default_factory=list)
    contributions: list[Contribution] = Field(default_factory=list)


class ChurnListRow(BaseModel):
    """One row of the operator's list (same columns as `retain churn-list`)."""

    rank: int
    user_id: str
    churn_probability: float
    predicted_value: float
    value_at_risk: float
    lifecycle_stage: str
    value_tier: str
    action: str
    expected_gain: float
    action_cost: float
    reasons: list[str]


class ChurnListResponse(BaseModel):
    """The ranked rows and how many users matched before `top` cut the list."""

    as_of: datetime | None
    matched: int
    rows: list[ChurnListRow]


class ModelFacts(BaseModel):
    """A registered model version as served."""

    name: str
    version: str
    run_id: str
    trained_at: datetime
    feature_set_id: str
    aliases: list[str]
    metrics: dict[str, float]


class WorkerInfo(BaseModel):
    """Which worker process answered (several workers serve one port)."""

    index: int | None
    pid: int


class ModelInfoResponse(BaseModel):
    """Versions, training time and out-of-time metrics of both models, and the snapshot."""

    feature_set_id: str
    churn: ModelFacts
    value: ModelFacts
    snapshot: SnapshotInfo
    loaded_at: datetime
    worker: WorkerInfo


class RefreshResponse(BaseModel):
    """What `POST /refresh` did in the worker that received it, and what it now serves."""

    status: Literal["reloaded", "unchanged", "failed"]
    detail: str
    model_versions: dict[str, str]
    worker: WorkerInfo
