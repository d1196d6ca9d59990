"""The BentoML service: scores, next best actions, explanations and churn lists over HTTP.

Why it looks like this: the champions and a scored snapshot are loaded once, in `__init__`,
before the server accepts traffic (so `/readyz` fails until they are there); every endpoint
is then a lookup into what `serving.scoring` computed for all users at one cutoff, which is
what `retain score` writes too. Requests and responses are the pydantic models of
`serving.api_models`; BentoML answers bad bodies with 400. Configuration comes from the
environment (`serving.settings`). The same process serves the operator page at /ui/
(`serving.operator_page`), which reads only these endpoints. Start it with `retain serve` or
`bentoml serve serving.service:RetainService`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import bentoml
from bentoml.validators import ContentType
from starlette.responses import JSONResponse

from features.definitions import FEATURE_SET
from serving.actions import ActionCatalogue, load_catalogue
from serving.api_models import (
    ChurnListRequest,
    ChurnListResponse,
    ExplainRequest,
    ExplainResponse,
    ModelFacts,
    ModelInfoResponse,
    RecommendResponse,
    ScoreResponse,
    SnapshotInfo,
    UserIdsRequest,
)
from serving.auth import ApiKeyMiddleware
from serving.champions import Champions, load_champions
from serving.churn_list import churn_list as ranked_list
from serving.churn_list import matching
from serving.operator_page import PAGE_PATH, page_app
from serving.segment_summary import SegmentSummaryCache, SegmentSummaryResponse
from serving.settings import ServiceSettings
from serving.snapshot import Snapshot, split_reasons

log = logging.getLogger("retain.service")
CsvText = Annotated[str, ContentType("text/csv")]


def build_snapshot(
    settings: ServiceSettings, champions: Champions, catalogue: ActionCatalogue
) -> Snapshot:
    """Score the events at the configured (or latest) cutoff, or read a score file."""
    from serving.scoring import ScoringConfig, read_scores, score_events

    if settings.scores is not None:
        snapshot = Snapshot.from_score_file(read_scores(settings.scores), str(settings.scores))
        if snapshot.model_versions and snapshot.model_versions != champions.versions:
            log.warning(
                "%s was scored by models %s but the champions are %s; serving the file as is",
                settings.scores,
                snapshot.model_versions,
                champions.versions,
            )
        return snapshot
    from features.loading import load_events

    events = load_events(settings.events)  # type: ignore[arg-type]
    log.info("%s", events.report.summary())
    config = ScoringConfig(
        catalogue=catalogue, budget=settings.budget, attribution=settings.reasons
    )
    scored = score_events(events, champions, settings.as_of, config)
    return Snapshot.from_scored(scored, str(settings.events))


def _facts(info: Any) -> ModelFacts:
    return ModelFacts(
        name=info.name,
        version=info.version,
        run_id=info.run_id,
        trained_at=info.trained_at,
        feature_set_id=info.feature_set_id,
        aliases=list(info.aliases),
        metrics=dict(info.metrics),
    )


def _error(status: int, message: str) -> Any:
    """A JSON error answer; BentoML passes a returned Response through untouched."""
    return JSONResponse({"error": message}, status_code=status)


@bentoml.service(name="retain", traffic={"timeout": 120}, workers=1)
@bentoml.asgi_app(page_app(), path=PAGE_PATH)  # the operator page (serving/operator_page.py)
class RetainService:
    """Retain's HTTP API (see DESIGN.md §5 and serving/api_models.py for the shapes)."""

    def __init__(self) -> None:
        self._ready = False
        settings = ServiceSettings.from_env()
        self.champions = load_champions(settings.tracking_uri)
        self.catalogue = load_catalogue(settings.catalogue)
        self.snapshot = build_snapshot(settings, self.champions, self.catalogue)
        log.info(
            "serving %s users as of %s from %s (models %s)",
            len(self.snapshot),
            self.snapshot.as_of,
            self.snapshot.source,
            self.snapshot.model_versions,
        )
        self.segments = SegmentSummaryCache(
            self.snapshot.scores, self.snapshot.as_of, self.catalogue
        )
        self._ready = True

    def __is_ready__(self) -> bool:
        return self._ready

    @bentoml.api
    async def score(self, request: UserIdsRequest, /) -> ScoreResponse:
        """Churn probability, predicted value, stage and tier for each id, in order."""
        return ScoreResponse.model_validate(
            {
                "as_of": self.snapshot.as_of,
                "model_versions": self.snapshot.model_versions,
                "items": self.snapshot.lookup(request.user_ids, with_action=False),
            }
        )

    @bentoml.api
    async def recommend(self, request: UserIdsRequest, /) -> RecommendResponse:
        """Scores plus the next best action, its expected gain and cost, and reason codes."""
        return RecommendResponse.model_validate(
            {
                "as_of": self.snapshot.as_of,
                "model_versions": self.snapshot.model_versions,
                "items": self.snapshot.lookup(request.user_ids, with_action=True),
            }
        )

    @bentoml.api
    async def explain(self, request: ExplainRequest, /) -> ExplainResponse:
        """The features that move one user's churn score most, in numbers and in words."""
        try:
            found = self.snapshot.explain(request.user_id, self.champions.churn, request.top_k)
        except LookupError as error:
            return _error(409, str(error))
        if found is None:
            return ExplainResponse(user_id=request.user_id, status="unknown_user")
        return ExplainResponse.model_validate(found)

    def _churn_rows(self, query: ChurnListRequest) -> tuple[int, Any]:
        known = self.catalogue.ids
        matched = int(matching(self.snapshot.scores, query, known).sum())
        return matched, ranked_list(self.snapshot.scores, query, known)

    @bentoml.api
    async def churn_list(self, query: ChurnListRequest, /) -> ChurnListResponse:
        """The operator's ranked list with the filters of `retain churn-list`, as JSON."""
        try:
            matched, rows = self._churn_rows(query)
        except ValueError as error:
            return _error(400, str(error))
        records = rows.to_dict(orient="records")
        for record in records:
            record["reasons"] = split_reasons(record["reasons"])
        return ChurnListResponse.model_validate(
            {"as_of": self.snapshot.as_of, "matched": matched, "rows": records}
        )

    @bentoml.api
    async def churn_list_csv(self, query: ChurnListRequest, /) -> CsvText:
        """The same list as CSV (reasons joined by "; "), ready for a spreadsheet."""
        try:
            _, rows = self._churn_rows(query)
        except ValueError as error:
            return _error(400, str(error))
        return rows.to_csv(index=False)

    @bentoml.api
    def segment_summary(self) -> SegmentSummaryResponse:
        """Users by stage × tier, value at risk, the action plan and the report's charts.

        Sync on purpose: the first call draws the charts (about a second of CPU), which BentoML
        then runs in a worker thread instead of blocking the event loop.
        """
        return self.segments.get()

    @bentoml.api
    async def model_info(self) -> ModelInfoResponse:
        """Champion versions, training time, out-of-time metrics and the served snapshot."""
        return ModelInfoResponse(
            feature_set_id=FEATURE_SET.id,
            churn=_facts(self.champions.churn_info),
            value=_facts(self.champions.value_info),
            snapshot=SnapshotInfo(
                as_of=self.snapshot.as_of,
                users=len(self.snapshot),
                source=self.snapshot.source,
                model_versions=self.snapshot.model_versions,
            ),
        )


RetainService.add_asgi_middleware(ApiKeyMiddleware, open_prefixes=(PAGE_PATH,))
