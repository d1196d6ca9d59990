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

MAX_IDS = 10_000
MAX_ID_LENGTH = 256
MAX_LIST_ROWS = 10_000  # rows in one answer; longer lists are paged (serving/api/list_requests.py)

UserId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
# Numbers are numbers: without Strict, pydantic would read `true` as 1 and `false` as 0.0.
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]  # still accepts a JSON integer (0, 1)
Status = Literal["ok", "unknown_user"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoParameters(_Strict):
    """The body of an endpoint that takes nothing: none, or `{}`. A field is refused (400),
    never silently ignored, so a client that thinks it is filtering learns that it is not."""


class UserIdsRequest(_Strict):
    """`{"user_ids": [...]}`: 1 to 10,000 non-empty ids; duplicates are answered twice."""

    user_ids: list[UserId] = Field(min_length=1, max_length=MAX_IDS)


MAX_EXPLAIN_FEATURES = 200


class ExplainRequest(_Strict):
    """One user, and how many contributions to show (largest in absolute size first)."""

    user_id: UserId
    # Up to every column a served feature set has (v2 with per-type columns has more than v1);
    # a top_k above the champions' own count returns them all.
    top_k: StrictInt = Field(5, ge=1, le=MAX_EXPLAIN_FEATURES)


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
    """Which scoring run the service answers from: `source` is the name of the event log or
    score file it was read from, never its path on the server; `snapshot_id` is what the lists'
    pages carry (the same in every worker serving the same models and files)."""

    snapshot_id: str
    as_of: datetime | None
    users: int
    source: str
    source_kind: Literal["events", "scores"]
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


class ListPage(BaseModel):
    """Where this answer stands in its list (serving/api/list_requests.py says why).

    `total` rows make the list (the matching users, cut at `top`); this answer holds the rows
    from `offset` on, at most `limit`; `next_offset` asks for the next page (null: this was the
    last). `snapshot_id` names the snapshot the ranks come from: send it back with later pages.
    """

    snapshot_id: str
    total: int
    offset: int
    limit: int
    next_offset: int | None = None


class ChurnListResponse(ListPage):
    """One page of the ranked list; `matched` counts the users the filters kept (before `top`)."""

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


class ActionPlanResponse(ListPage):
    """Whom we contact, by expected gain, one page of it; `matched`, `cost` and
    `expected_gain` add up every matching contacted user, not only `top` or this page.

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
    """Which worker answered (several workers serve one port): its index, not its process id."""

    index: int | None


class ModelInfoResponse(BaseModel):
    """Versions, training time and out-of-time metrics of the three models, the snapshot and
    what its decisions achieve (null for a score file written without the summary).

    `registry` says which kind of MLflow store the champions come from, without its path or
    credentials (`sqlite (local file)`, `http://mlflow:5000`).
    """

    feature_set_id: str
    registry: str
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
