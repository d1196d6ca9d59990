"""The answers of the two operator lists, JSON and CSV, one page at a time.

Why here and not in the service class: the churn list and the action plan share their filters,
their paging and their CSV form; written once, the JSON and CSV answers of one request cannot
disagree, and `serving/api/service.py` stays a list of endpoints. The lists themselves come from
`serving.decisions.churn_list`, as in `retain churn-list` and `retain action-plan`: the whole
ranked list is made (once per snapshot and query: `serving/api/ranked_lists.py`), then the page
is cut out of it, so ranks and ties are the CLI's. How a client pages is in
`serving/api/list_requests.py`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
from starlette.responses import JSONResponse, Response

from serving.api.list_requests import ActionPlanRequest, ChurnListRequest, ListRequest
from serving.api.models import DecisionFacts
from serving.api.state import ServingState
from serving.decisions import NO_ACTION, action_plan, churn_list, matching
from serving.scoring import split_reasons

TOTAL_HEADER = "X-Total-Count"
NEXT_OFFSET_HEADER = "X-Next-Offset"
SNAPSHOT_HEADER = "X-Snapshot-Id"


class ListRequestError(ValueError):
    """A list request that cannot be answered, with its HTTP status (400 or 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> JSONResponse:
        return JSONResponse({"error": str(self)}, status_code=self.status)


def snapshot_id(state: ServingState) -> str:
    """A short name for what the state was built from (champion versions, file identities).

    The same in every worker that serves the same models and files, so a client paging through
    a list across workers sees one id; it changes whenever a refresh swaps the snapshot.
    """
    return hashlib.sha256(repr(state.source).encode("utf-8")).hexdigest()[:16]


def decision_facts(state: ServingState) -> DecisionFacts | None:
    """The served run's decisions against their upper bound (None: a score file without them)."""
    decisions = state.snapshot.decisions
    return None if decisions is None else DecisionFacts.model_validate(decisions.as_dict())


def with_reason_lists(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON records, the joined reason texts as lists again."""
    records = rows.to_dict(orient="records")
    for record in records:
        record["reasons"] = split_reasons(record["reasons"])
    return records


def _checked_snapshot(state: ServingState, request: ListRequest) -> str:
    served = snapshot_id(state)
    if request.snapshot_id is not None and request.snapshot_id != served:
        raise ListRequestError(
            409,
            f"snapshot {request.snapshot_id} is no longer served (now {served}): the ranks have "
            "moved, so fetch the list again from offset 0",
        )
    return served


def _page(served: str, request: ListRequest, ranked: pd.DataFrame) -> dict[str, Any]:
    """The page's rows and where it stands in the list."""
    total = len(ranked)
    start = request.offset
    stop = start + request.page_size()
    return {
        "snapshot_id": served,
        "total": total,
        "offset": start,
        "limit": request.page_size(),
        "next_offset": stop if stop < total else None,
        "rows": ranked.iloc[start:stop],
    }


def _matching(state: ServingState, request: ListRequest) -> Any:
    """Mask of the users the filters keep; an action id the catalogue lacks is a 400."""
    try:
        return matching(state.snapshot.scores, request.query(), state.catalogue.ids)
    except ValueError as error:
        raise ListRequestError(400, str(error)) from None


def _ranked(state: ServingState, kind: str, request: ListRequest) -> pd.DataFrame:
    """The whole ranked list, ranked once per snapshot and query (pages are slices of it)."""
    make = churn_list if kind == "churn_list" else action_plan
    query = request.query()
    return state.lists.get(
        (kind, query), lambda: make(state.snapshot.scores, query, state.catalogue.ids)
    )


def churn_page(state: ServingState, request: ChurnListRequest) -> dict[str, Any]:
    """One page of the churn list and how many users the filters matched."""
    served = _checked_snapshot(state, request)
    matched = int(_matching(state, request).sum())
    ranked = _ranked(state, "churn_list", request)
    return {"as_of": state.snapshot.as_of, "matched": matched, **_page(served, request, ranked)}


def plan_page(state: ServingState, request: ActionPlanRequest) -> dict[str, Any]:
    """One page of the action plan, with totals over every matching contacted user."""
    served = _checked_snapshot(state, request)
    scores = state.snapshot.scores
    contacted = scores.loc[_matching(state, request) & (scores["action"] != NO_ACTION).to_numpy()]
    ranked = _ranked(state, "action_plan", request)
    return {
        "as_of": state.snapshot.as_of,
        "matched": len(contacted),
        "cost": float(contacted["action_cost"].sum()),
        "expected_gain": float(contacted["expected_gain"].sum()),
        "decisions": decision_facts(state),
        **_page(served, request, ranked),
    }


def as_json(page: dict[str, Any]) -> dict[str, Any]:
    """The page with its rows as JSON records."""
    return {**page, "rows": with_reason_lists(page["rows"])}


def as_csv(page: dict[str, Any]) -> Response:
    """The page's rows as CSV (reasons joined by "; "); where it stands goes in the headers."""
    headers = {TOTAL_HEADER: str(page["total"]), SNAPSHOT_HEADER: page["snapshot_id"]}
    if page["next_offset"] is not None:
        headers[NEXT_OFFSET_HEADER] = str(page["next_offset"])
    return Response(page["rows"].to_csv(index=False), media_type="text/csv", headers=headers)
