"""The BentoML service: scores, next best actions, explanations and the two lists over HTTP.

Why it looks like this: each worker builds its state (the champions and a snapshot scored for
every user at one cutoff) in `__init__`, before it accepts traffic, so `/readyz` fails until it
is there; every endpoint is then a lookup into what `serving.scoring.pipeline` computed, which is
what `retain score` writes too. The state is replaced whole when `@champion` or the source file
moves (`serving.api.state`: polled every RETAIN_REFRESH_SECONDS, or `POST /refresh`); a request
reads it once, so its answer never mixes two snapshots. No champion yet: the worker runs but
is not ready. A champion that cannot be loaded stops `bentoml serve` before any worker starts
(the deployment hook). Requests and responses are the pydantic models of `serving.api.models`
(the lists': `serving.api.list_requests`, with the CLI's filter names and paging); BentoML
answers bad bodies with 400, worded by `serving.api.error_bodies`, `serving.api.request_guard`
oversized (413) and non-JSON (415) ones. The reads also answer GET (`serving.api.read_routes`),
through the same methods.
Configuration comes from the environment (`serving.api.settings`): the decision settings (catalogue,
learned effects, budget, contact history, segmentation) are those of `retain score`, so the
service decides with the same economics. The two operator lists are the churn list (whom we are
about to lose, by value at risk) and the action plan (whom we contact, by expected gain), both
from `serving.decisions.churn_list`, as in the CLI, one page at a time
(serving/api/list_answers.py). The same process serves the operator page at /ui/
(`serving.api.operator_page`), which reads only these endpoints. Start it with `retain serve`
or `bentoml serve serving.api.service:RetainService`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml.validators import ContentType
from starlette.responses import JSONResponse

from serving.api import gauges, log_privacy, request_timer
from serving.api.auth import ApiKeyMiddleware
from serving.api.error_bodies import ErrorBodyMiddleware
from serving.api.list_answers import (
    ListRequestError,
    as_csv,
    as_json,
    churn_page,
    decision_facts,
    plan_page,
    with_reason_lists,
)
from serving.api.list_requests import ActionPlanRequest, ChurnListRequest
from serving.api.model_info import model_info, worker
from serving.api.models import (
    ActionPlanResponse,
    ChurnListResponse,
    ExplainRequest,
    ExplainResponse,
    ModelInfoResponse,
    NoParameters,
    RecommendResponse,
    RefreshResponse,
    ScoreResponse,
    UserIdsRequest,
)
from serving.api.openapi_doc import OpenApiDocMiddleware
from serving.api.operator_models import (
    RiskChangeRequest,
    RiskChangeResponse,
    WhatIfRequest,
    WhatIfResponse,
)
from serving.api.operator_page import PAGE_PATH, page_app
from serving.api.read_routes import ReadRoutesMiddleware, read_schemas
from serving.api.request_guard import RequestGuardMiddleware
from serving.api.risk_change import compare_risk
from serving.api.settings import ServiceSettings
from serving.api.state import ServingState, StateHolder, build_snapshot, preflight
from serving.api.what_if import plan_with_budget
from serving.reporting import SegmentSummaryResponse

__all__ = ["RetainService", "build_snapshot"]

request_timer.install()  # BentoML's per-request timer, cancelled when the request ends

log = logging.getLogger("retain.service")
CsvText = Annotated[str, ContentType("text/csv")]


def _error(status: int, message: str) -> Any:
    """A JSON error answer; BentoML passes a returned Response through untouched."""
    return JSONResponse({"error": message}, status_code=status)


@bentoml.service(name="retain", traffic={"timeout": 120}, workers=1)
@bentoml.asgi_app(page_app(), path=PAGE_PATH)  # the operator page (serving/api/operator_page.py)
class RetainService:
    """Retain's HTTP API (see DESIGN.md §5 and serving/api/models.py for the shapes)."""

    @bentoml.on_deployment
    def _preflight() -> None:
        """Once, before workers spawn: a bad configuration or model stops the server here."""
        preflight(ServiceSettings.from_env())

    def __init__(self) -> None:
        logging.getLogger("retain").setLevel(logging.INFO)  # our lines; BentoML's root is WARNING
        log_privacy.install()  # bad requests are logged without their values
        self._holder = StateHolder(ServiceSettings.from_env())
        self._holder.refresh(starting=True)
        self._poller: asyncio.Task[None] | None = None
        self._published: ServingState | None = None
        self._publish()

    def __is_ready__(self) -> bool:
        return self._holder.state is not None

    @bentoml.on_startup
    async def _start_polling(self) -> None:
        interval = self._holder.settings.refresh_seconds
        if interval > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll(interval))

    @bentoml.on_shutdown
    async def _stop_polling(self) -> None:
        if self._poller is not None:
            self._poller.cancel()

    async def _poll(self, interval: float) -> None:
        """Check the registry and the source every `interval` seconds, for the worker's life."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self._holder.refresh)
            except Exception:  # never let one bad poll end the polling
                log.exception("snapshot refresh poll failed")
            await asyncio.to_thread(self._publish)

    def _publish(self) -> None:
        """The /metrics gauges (serving/api/gauges.py): snapshot facts when the state changed,
        its age and the monitor's latest status at every poll. Never fails the caller."""
        try:
            state = self._holder.state
            if state is not None and state is not self._published:
                gauges.publish_state(state)
                self._published = state
            elif state is not None:
                gauges.publish_age(state)
            gauges.publish_monitor_status()
        except Exception:
            log.exception("publishing the /metrics gauges failed")

    def _state(self) -> ServingState | Any:
        """The current state, read once per request; a 503 answer while there is none."""
        state = self._holder.state
        if state is None:
            return _error(503, f"not ready: {self._holder.problem}")
        return state

    @bentoml.api
    async def score(self, request: UserIdsRequest, /) -> ScoreResponse:
        """Churn probability, predicted value, stage and tier for each id, in order."""
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        return ScoreResponse.model_validate(
            {
                "as_of": state.snapshot.as_of,
                "model_versions": state.snapshot.model_versions,
                "items": state.snapshot.lookup(request.user_ids, with_action=False),
            }
        )

    @bentoml.api
    async def recommend(self, request: UserIdsRequest, /) -> RecommendResponse:
        """Scores plus the next best action, its expected gain and cost, and reason codes."""
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        return RecommendResponse.model_validate(
            {
                "as_of": state.snapshot.as_of,
                "model_versions": state.snapshot.model_versions,
                "items": state.snapshot.lookup(request.user_ids, with_action=True),
            }
        )

    @bentoml.api
    async def explain(self, request: ExplainRequest, /) -> ExplainResponse:
        """The features that move one user's churn risk most, in numbers and in words.

        Active users are explained by the churn model, lapsed ones by the recall model with the
        signs turned (`model` says which); "raises risk" means a higher churn probability.
        """
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        try:
            found = state.snapshot.explain(request.user_id, state.champions, request.top_k)
        except LookupError as error:  # the message names the source: its name, not its path
            source = state.snapshot.source
            return _error(409, str(error).replace(source, Path(source).name))
        if found is None:
            return ExplainResponse(user_id=request.user_id, status="unknown_user")
        return ExplainResponse.model_validate(found)

    @bentoml.api
    async def churn_list(self, query: ChurnListRequest, /) -> ChurnListResponse:
        """Whom we are about to lose: the filters of `retain churn-list`, by value at risk
        (churn probability × value at stake) unless `sort_by` says otherwise, one page as JSON.
        Also GET, with the fields as query parameters."""
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        try:
            return ChurnListResponse.model_validate(as_json(churn_page(state, query)))
        except ListRequestError as error:
            return error.response()

    @bentoml.api
    async def churn_list_csv(self, query: ChurnListRequest, /) -> CsvText:
        """The same page as CSV (reasons joined by "; "), ready for a spreadsheet; the list's
        total, next offset and snapshot id are in the headers. Also GET."""
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        try:
            return as_csv(churn_page(state, query))
        except ListRequestError as error:
            return error.response()

    @bentoml.api
    async def action_plan(self, request: ActionPlanRequest, /) -> ActionPlanResponse:
        """Whom we contact: users with an action, with what, at what cost and expected gain,
        ranked by expected gain (the churn list's filters; `retain action-plan` as JSON), one
        page. Also GET.

        `matched`, `cost` and `expected_gain` add up every matching contacted user (not only
        this page); `decisions` is the whole run's gain against its upper bound.
        """
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        try:
            return ActionPlanResponse.model_validate(as_json(plan_page(state, request)))
        except ListRequestError as error:
            return error.response()

    @bentoml.api
    async def action_plan_csv(self, request: ActionPlanRequest, /) -> CsvText:
        """The same page of the plan as CSV, ready for a campaign tool (paging in the headers,
        as /churn_list_csv). Also GET."""
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        try:
            return as_csv(plan_page(state, request))
        except ListRequestError as error:
            return error.response()

    @bentoml.api
    def segment_summary(self, _: NoParameters, /) -> SegmentSummaryResponse:
        """Users by stage × tier, value at risk, the action plan and the report's charts (also GET).

        Sync on purpose: the first call draws the charts (about a second of CPU), which BentoML
        then runs in a worker thread instead of blocking the event loop.
        """
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        return state.segments.get()

    @bentoml.api
    def what_if(self, request: WhatIfRequest, /) -> WhatIfResponse:
        """The plan another budget buys: the served scores decided again with the same playbook
        and contact history (serving/api/what_if.py); nothing is saved. Sync: it re-allocates
        every user, so BentoML runs it in a worker thread."""
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        score_file = self._holder.settings.scores is not None
        try:
            plan = plan_with_budget(state, request.budget, request.top, score_file=score_file)
        except ValueError as error:
            return _error(409, str(error))
        return WhatIfResponse.model_validate(
            {
                "as_of": state.snapshot.as_of,
                "basis": plan.basis,
                "plan": plan.summary.as_dict(),
                "served": decision_facts(state),
                "by_action": plan.by_action,
                "rows": with_reason_lists(plan.rows),
            }
        )

    @bentoml.api
    def risk_change(self, request: RiskChangeRequest, /) -> RiskChangeResponse:
        """Churn risk now by stage, and its change since the snapshot this worker served before
        (serving/api/risk_change.py); says so when there is none yet."""
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        return RiskChangeResponse.model_validate(
            compare_risk(state, list(request.user_ids), request.top)
        )

    @bentoml.api
    async def model_info(self, _: NoParameters, /) -> ModelInfoResponse:
        """Champion versions, training time, out-of-time metrics, the served snapshot and what
        its decisions achieve against the upper bound; no server paths (also GET)."""
        state = self._state()
        if not isinstance(state, ServingState):
            return state
        settings = self._holder.settings
        return model_info(state, settings.tracking_uri, scores_file=settings.scores is not None)

    @bentoml.api
    async def refresh(self, _: NoParameters, /) -> RefreshResponse:
        """Rebuild this worker's snapshot now if `@champion` or the source moved (else no-op).

        Other workers follow at their next poll (RETAIN_REFRESH_SECONDS).
        """
        outcome = await asyncio.to_thread(self._holder.refresh)
        state = self._holder.state
        return RefreshResponse(
            status=outcome.status,  # type: ignore[arg-type]
            detail=outcome.detail,
            model_versions=state.snapshot.model_versions if state is not None else {},
            worker=worker(),
        )


# Outermost first: size and type, the document, the key; then GET reads become their POST, and
# BentoML's error answers are reworded on their way out.
RetainService.add_asgi_middleware(RequestGuardMiddleware)
RetainService.add_asgi_middleware(OpenApiDocMiddleware)
RetainService.add_asgi_middleware(ApiKeyMiddleware, open_prefixes=(PAGE_PATH,))
RetainService.add_asgi_middleware(
    ReadRoutesMiddleware,
    reads=read_schemas({name: api.input_spec for name, api in RetainService.apis.items()}),
)
RetainService.add_asgi_middleware(
    ErrorBodyMiddleware, paths=[f"/{name}" for name in RetainService.apis]
)
