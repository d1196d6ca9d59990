"""Request and response models of the HTTP API: the typed service boundary.

Why pydantic with limits: BentoML validates every request body against these models before our
code runs, so malformed JSON, wrong types, empty or oversized id lists and unknown fields are
answered with a 400 and a message that names the field, never with a 500. Unknown user ids are
not bad requests: each gets an item with status `unknown_user`, in request order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from features import FEATURE_SET
from serving.decisions import ChurnListQuery

MAX_IDS = 10_000
MAX_ID_LENGTH = 256
MAX_LIST_ROWS = 10_000  # the HTTP lists; bigger ones belong to `retain churn-list|action-plan`

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
    """The churn-list filters of `retain churn-list`, with a row cap over HTTP.

    Ranked by value at risk (churn probability × value at stake) unless `sort_by` says otherwise.
    """

    min_risk: StrictFloat = Field(0.0, ge=0, le=1)
    top: StrictInt = Field(100, ge=1, le=MAX_LIST_ROWS)  # type: ignore[assignment]


class ActionPlanRequest(_Strict):
    """The same filters as the churn list; the plan is always ranked by expected gain."""

    stages: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    min_risk: StrictFloat = Field(0.0, ge=0, le=1)
    top: StrictInt = Field(100, ge=1, le=MAX_LIST_ROWS)

    @model_validator(mode="after")
    def _known_filters(self) -> ActionPlanRequest:
        """The churn list's checks: an unknown stage or tier is a 400 that names it."""
        try:
            self.query()
        except ValidationError as error:
            raise ValueError(
                "; ".join(
                    item["msg"].removeprefix("Value error, ")
                    for item in error.errors(include_url=False)
                )
            ) from None
        return self

    def query(self) -> ChurnListQuery:
        """As the query `serving.decisions.churn_list.action_plan` takes (it ignores the sort)."""
        return ChurnListQuery(**self.model_dump())


class ScoreItem(BaseModel):
    """One user's scores; every score field is null when the status is `unknown_user`.

    `churn_probability` is the churn model's for active users and 1 − `return_probability`
    (the recall model's) for lapsed ones; `return_probability` is null for active users.
    `value_at_stake` = value if retained − value if churned (what a retention is worth);
    `predicted_value` is the value expected under the churn probability.
    """

    user_id: str
    status: Status
    churn_probability: float | None = None
    return_probability: float | None = None
    predicted_value: float | None = None
    value_if_retained: float | None = None
    value_at_stake: float | None = None
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
    model_versions: dict[str, str | None]


class ScoreResponse(BaseModel):
    """One item per requested id, in request order."""

    as_of: datetime | None
    model_versions: dict[str, str | None]
    items: list[ScoreItem]


class RecommendResponse(BaseModel):
    """One item per requested id, in request order."""

    as_of: datetime | None
    model_versions: dict[str, str | None]
    items: list[RecommendItem]


Effect = Literal["raises risk", "lowers risk"]


class Contribution(BaseModel):
    """One feature's push on the churn log-odds for this user, in numbers and in words.

    `effect` follows the sign of `contribution`. `text` is phrased that way ("only 2 events in
    the last 30 days" raising, "active on 22 of the last 30 days" lowering) when the user's value
    stands on that side of the typical value; otherwise it states the value plainly (the push
    comes from an interaction inside the model that the value alone does not explain).
    """

    feature: str
    family: str | None = None
    value: float | None
    contribution: float
    effect: Effect
    text: str


class FamilyContribution(BaseModel):
    """One signal family's push: the sum of its features' contributions (TreeSHAP is additive),
    worded by the member that pushes most that way (serving/decisions/reason_families.py)."""

    family: str
    label: str
    contribution: float
    effect: Effect
    text: str
    features: list[str]


class ExplainResponse(BaseModel):
    """Why this user's churn risk is what it is (TreeSHAP, in churn log-odds).

    `model` says which model scored the user: `churn` for active users, `recall` for lapsed
    ones, whose contributions to the return log-odds are shown with the sign turned (churn
    probability = 1 − return probability), so "raises risk" means the same for everyone.
    `contributions` are the top_k features by size, `families` the top_k signal families (both
    directions); `reasons` are the run's risk-raising reasons, as the lists show them.
    """

    user_id: str
    status: Status
    model: Literal["churn", "recall"] | None = None
    churn_probability: float | None = None
    return_probability: float | None = None
    lifecycle_stage: str | None = None
    bias: float | None = None
    reasons: list[str] = Field(default_factory=list)
    contributions: list[Contribution] = Field(default_factory=list)
    families: list[FamilyContribution] = Field(default_factory=list)


class ChurnListRow(BaseModel):
    """One row of the churn list (same columns as `retain churn-list`).

    `value_at_risk` = churn probability × value at stake: the revenue expected to leave.
    """

    rank: int
    user_id: str
    churn_probability: float
    value_at_stake: float
    value_at_risk: float
    predicted_value: float
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


class DecisionFacts(BaseModel):
    """What the served run's decisions achieve, against the best any plan could (LP bound).

    `share_of_bound` = achieved_gain / upper_bound: how close to optimal the plan is.
    """

    users: int
    contacted: int
    cost: float
    achieved_gain: float
    upper_bound: float
    share_of_bound: float
    method: str
    budget: float | None
    by_action: dict[str, int]


class ActionPlanRow(BaseModel):
    """One contacted user of the action plan (same columns as `retain action-plan`)."""

    rank: int
    user_id: str
    action: str
    action_cost: float
    expected_gain: float
    churn_probability: float
    value_at_stake: float
    lifecycle_stage: str
    value_tier: str
    decision_reason: str
    reasons: list[str]


class ActionPlanResponse(BaseModel):
    """Whom we contact, by expected gain; totals over every matching user, not only `top`.

    `decisions` is the whole run's summary (null for a score file written without it).
    """

    as_of: datetime | None
    matched: int
    cost: float
    expected_gain: float
    rows: list[ActionPlanRow]
    decisions: DecisionFacts | None = None


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
    """Versions, training time and out-of-time metrics of the three models, the snapshot and
    what its decisions achieve (null for a score file written without the summary)."""

    feature_set_id: str
    churn: ModelFacts
    recall: ModelFacts | None = None  # null: no recall champion (see notes)
    value: ModelFacts
    notes: list[str] = []  # e.g. lapsed users scored by the churn model for want of recall
    snapshot: SnapshotInfo
    decisions: DecisionFacts | None = None
    loaded_at: datetime
    worker: WorkerInfo


class RefreshResponse(BaseModel):
    """What `POST /refresh` did in the worker that received it, and what it now serves."""

    status: Literal["reloaded", "unchanged", "failed"]
    detail: str
    model_versions: dict[str, str | None]
    worker: WorkerInfo
