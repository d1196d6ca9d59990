"""The OpenAPI document BentoML generates, completed with the answers it does not know about.

Why: clients (and the schemathesis tests) rely on /docs.json to say every status a request can
get and every body shape. BentoML documents 200, 400, 404 and 500 for each API, but
- its 400 body for a request that fails validation carries `detail` as the list of pydantic
  errors (field, message, type), while its document declares `detail` a string;
- it cannot know the answers that come from our middleware and code: 401 (API key,
  serving.api.auth), 413 and 415 (body too large, not JSON: serving.api.request_guard), 503 (no
  champion yet, serving.api.state) and 409 (`/explain` on a score file without features,
  `/what_if` on a score file with a holdout assignment);
- BentoML drops `null` from the optional top-level fields of a response (`as_of`, and
  `churn_probability` of an unknown user in /explain) and of a request (`budget` of /what_if,
  where null means no budget): they are marked `nullable` again, from the pydantic models;
- a request body whose schema has required fields (/score, /recommend, /explain) is required
  (BentoML leaves every body optional; a missing one gets 400);
- the filters of both lists (churn list and action plan) accept only known stages, tiers and
  action ids (a typo fails loudly), which the pydantic schema states only as "strings"; the
  action ids are the catalogue's (RETAIN_CATALOGUE), so they are filled in when the document
  is served.
`complete_document` adds exactly these; `OpenApiDocMiddleware` applies it to what BentoML serves
at /docs.json, so the served document and the generated one cannot drift apart.
"""

from __future__ import annotations

import copy
import json
import os
import types
import typing
from collections.abc import MutableMapping, Sequence
from typing import Any

from pydantic import BaseModel

from serving.api.auth import App, Receive, Scope, Send
from serving.api.models import (
    ActionPlanResponse,
    ChurnListResponse,
    ExplainResponse,
    ModelInfoResponse,
    RecommendResponse,
    RefreshResponse,
    ScoreResponse,
)
from serving.api.operator_models import RiskChangeResponse, WhatIfRequest, WhatIfResponse
from serving.decisions import STAGES, TIERS
from serving.reporting import SegmentSummaryResponse

DOC_PATH = "/docs.json"
_ERROR_REF = {"$ref": "#/components/schemas/ErrorMessage"}
_ERROR_SCHEMA = {
    "type": "object",
    "title": "ErrorMessage",
    "required": ["error"],
    "properties": {"error": {"type": "string", "title": "Message"}},
    "description": "What went wrong, in words.",
}
_VALIDATION_DETAIL = {
    "title": "Error Detail",
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "object"}, "description": "pydantic's errors"},
    ],
}
_EXTRA = {
    "401": "Missing or wrong API key (X-API-Key), when the service requires one",
    "413": "Request body larger than RETAIN_MAX_BODY_BYTES",
    "415": "Request body declared as something other than JSON",
    "503": "Not ready: no champion model in the registry yet",
}
_CONFLICTS = {
    "/explain": "Explanations unavailable: the served score file has no feature columns",
    "/what_if": "Cannot decide again: the served score file has a holdout assignment",
}


_LIST_PATHS = ("/churn_list", "/churn_list_csv", "/action_plan", "/action_plan_csv")
RESPONSE_MODELS: dict[str, type[BaseModel]] = {
    "/score": ScoreResponse,
    "/recommend": RecommendResponse,
    "/explain": ExplainResponse,
    "/churn_list": ChurnListResponse,
    "/action_plan": ActionPlanResponse,
    "/model_info": ModelInfoResponse,
    "/refresh": RefreshResponse,
    "/segment_summary": SegmentSummaryResponse,
    "/what_if": WhatIfResponse,
    "/risk_change": RiskChangeResponse,
}
REQUEST_MODELS: dict[str, type[BaseModel]] = {"/what_if": WhatIfRequest}


def _nullable_fields(model: type[BaseModel]) -> list[str]:
    """Top-level fields of `model` that may be None."""
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(
            None
        ) in typing.get_args(annotation):
            names.append(name)
    return names


def _restore_nullable(schema: dict[str, Any], model: type[BaseModel]) -> None:
    properties = schema.get("properties", {})
    for name in _nullable_fields(model):
        prop = properties.get(name)
        if isinstance(prop, dict) and "anyOf" not in prop:
            prop["nullable"] = True


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def _churn_list_filters(request_schema: dict[str, Any], action_ids: Sequence[str]) -> None:
    properties = request_schema.get("properties", {})
    for name, allowed in (("stages", STAGES), ("tiers", TIERS), ("actions", action_ids)):
        items = properties.get(name, {}).get("items")
        if isinstance(items, dict):
            items["enum"] = list(allowed)


def complete_document(document: dict[str, Any], action_ids: Sequence[str]) -> dict[str, Any]:
    """A copy of BentoML's document with the real 400 detail, 401/409/413/503 answers and the
    list filters' allowed values (`action_ids`: the served catalogue's)."""
    completed = copy.deepcopy(document)
    schemas = completed.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorMessage"] = _ERROR_SCHEMA
    invalid = schemas.get("InvalidArgument", {}).get("properties", {})
    if "detail" in invalid:
        invalid["detail"] = _VALIDATION_DETAIL
    for name in ("ChurnListRequestIODescriptor", "ActionPlanRequestIODescriptor"):
        if name in schemas:
            _churn_list_filters(schemas[name], action_ids)
    for path, item in completed.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "x-bentoml-name" in operation:  # one of our APIs
                for status, description in _EXTRA.items():
                    responses.setdefault(status, _error_response(description))
                if path in _CONFLICTS:
                    responses.setdefault("409", _error_response(_CONFLICTS[path]))
                request_body = operation.get("requestBody", {})
                body_schema = request_body.get("content", {}).get("application/json", {})
                if body_schema.get("schema", {}).get("required"):
                    request_body["required"] = True
                if path in REQUEST_MODELS:
                    _restore_nullable(body_schema.get("schema", {}), REQUEST_MODELS[path])
                if path in RESPONSE_MODELS:
                    ok = responses.get("200", {}).get("content", {}).get("application/json", {})
                    _restore_nullable(ok.get("schema", {}), RESPONSE_MODELS[path])
                if path in _LIST_PATHS:
                    body = operation.get("requestBody", {}).get("content", {})
                    _churn_list_filters(
                        body.get("application/json", {}).get("schema", {}), action_ids
                    )
            elif path == "/metrics":
                responses.setdefault("401", _error_response(_EXTRA["401"]))
    return completed


class OpenApiDocMiddleware:
    """Rewrites BentoML's GET /docs.json answer through `complete_document`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._action_ids: tuple[str, ...] | None = None

    def action_ids(self) -> tuple[str, ...]:
        """The served catalogue's action ids (RETAIN_CATALOGUE, else the packaged one)."""
        if self._action_ids is None:
            from serving.decisions import load_catalogue

            self._action_ids = load_catalogue(os.environ.get("RETAIN_CATALOGUE") or None).ids
        return self._action_ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != DOC_PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start: MutableMapping[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if start.get("status") == 200:
            completed = complete_document(json.loads(body), self.action_ids())
            body = json.dumps(completed).encode("utf-8")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body})
