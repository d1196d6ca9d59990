"""The OpenAPI document BentoML generates, completed with what it does not know about.

Why: clients (and the schemathesis tests) rely on /docs.json to say every operation, every
status a request can get and every body shape. BentoML's document falls short in these ways,
and `complete_document` mends each:
- its `info` is BentoML's boilerplate: replaced by Retain's (serving/api/openapi_info.py);
- its schema names end in `IODescriptor`, a class of BentoML's making: the suffix is dropped;
- its 400 body for a request that fails validation carries `detail` as the list of pydantic
  errors (field, message, type), while its document declares `detail` a string;
- it cannot know the answers that come from our middleware and code: 401 (API key,
  serving.api.auth), 413 and 415 (body too large, not JSON: serving.api.request_guard), 503 (no
  champion yet, serving.api.state) and 409 (`/explain` on a score file without features,
  `/what_if` on a score file with a holdout assignment, a list page of a snapshot no longer
  served);
- it documents POST only: the reads BentoML never routes as GET (serving.api.read_routes
  answers them) get their GET operation, with the body's fields as query parameters;
- BentoML drops `null` from the optional top-level fields of a response (`as_of`, and
  `churn_probability` of an unknown user in /explain) and of a request (`budget` of /what_if,
  where null means no budget): they are marked `nullable` again, from the pydantic models;
- a request body whose schema has required fields (/score, /recommend, /explain) is required
  (BentoML leaves every body optional; a missing one gets 400);
- the filters of both lists accept only known stages, tiers and action ids (a typo fails
  loudly), which the pydantic schema states only as "strings"; the action ids are the
  catalogue's (RETAIN_CATALOGUE), so they are filled in when the document is served; a filter
  and its deprecated alias (`stage` and `stages`) are not given together;
- the CSV lists say where their page stands in headers, which it cannot know.
`OpenApiDocMiddleware` applies `complete_document` to what BentoML serves at /docs.json, so
the served document and the generated one cannot drift apart.
"""

from __future__ import annotations

import copy
import json
import os
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from serving.api.asgi import App, Receive, Scope, Send, rewrite_json_answers
from serving.api.list_answers import NEXT_OFFSET_HEADER, SNAPSHOT_HEADER, TOTAL_HEADER
from serving.api.list_requests import FILTER_ALIASES
from serving.api.models import (
    ActionPlanResponse,
    ChurnListResponse,
    ExplainResponse,
    ModelInfoResponse,
    RecommendResponse,
    RefreshResponse,
    ScoreResponse,
)
from serving.api.openapi_info import TAGS, contact, info
from serving.api.operator_models import RiskChangeResponse, WhatIfRequest, WhatIfResponse
from serving.api.read_routes import READS, query_parameters
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
_BODY_ONLY = ("413", "415")  # a GET has no body to refuse
_LIST_PATHS = ("/churn_list", "/churn_list_csv", "/action_plan", "/action_plan_csv")
_PAGE_GONE = "The snapshot_id sent is no longer served: fetch the list again from offset 0"
_CONFLICTS = {
    "/explain": "Explanations unavailable: the served score file has no feature columns",
    "/what_if": "Cannot decide again: the served score file has a holdout assignment",
    **{path: _PAGE_GONE for path in _LIST_PATHS},
}
_CSV_HEADERS = {
    TOTAL_HEADER: ({"type": "integer"}, True, "Rows in the whole list (after `top`)"),
    NEXT_OFFSET_HEADER: ({"type": "integer"}, False, "The next page's offset (absent: last)"),
    SNAPSHOT_HEADER: ({"type": "string"}, True, "The snapshot the ranks come from"),
}
_IO_SUFFIX = re.compile(r"(\w+)IODescriptor\b")
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


def _without_io_suffix(node: Any) -> Any:
    """Every `XIODescriptor` (schema names, titles, references) as `X`."""
    if isinstance(node, dict):
        return {_without_io_suffix(k): _without_io_suffix(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_io_suffix(item) for item in node]
    if isinstance(node, str):
        return _IO_SUFFIX.sub(r"\1", node)
    return node


def _one_of_pattern(allowed: Sequence[str]) -> str:
    """A comma-separated list of allowed values (`at_risk,dormant`), or nothing."""
    value = "(?:" + "|".join(re.escape(item) for item in allowed) + ")"
    return f"^(?:{value}(?:, ?{value})*)?$"


def _list_filters(request_schema: dict[str, Any], action_ids: Sequence[str]) -> None:
    """The allowed values of each filter and its alias; the two not given together."""
    properties = request_schema.get("properties", {})
    allowed = {"stage": STAGES, "tier": TIERS, "action": action_ids}
    for name, alias in FILTER_ALIASES.items():
        for field in (name, alias):
            prop = properties.get(field, {})
            for branch in prop.get("anyOf", [prop]):
                if branch.get("type") == "array":
                    branch["items"]["enum"] = list(allowed[name])
                elif branch.get("type") == "string":
                    branch["pattern"] = _one_of_pattern(allowed[name])
    if all(name in properties for name in FILTER_ALIASES):
        pairs = [{"required": [name, alias]} for name, alias in FILTER_ALIASES.items()]
        request_schema["not"] = {"anyOf": pairs}


def _csv_headers(responses: dict[str, Any]) -> None:
    ok = responses.get("200", {})
    ok["headers"] = {
        name: {"schema": schema, "required": required, "description": description}
        for name, (schema, required, description) in _CSV_HEADERS.items()
    }


def _complete_operation(path: str, operation: dict[str, Any], action_ids: Sequence[str]) -> None:
    """One of our POST APIs: its extra answers, required body, nullable fields and filters."""
    responses = operation["responses"]
    for status, description in _EXTRA.items():
        responses.setdefault(status, _error_response(description))
    if path in _CONFLICTS:
        responses.setdefault("409", _error_response(_CONFLICTS[path]))
    request_body = operation.get("requestBody", {})
    body_schema = request_body.get("content", {}).get("application/json", {}).get("schema", {})
    if body_schema.get("required"):
        request_body["required"] = True
    if path in REQUEST_MODELS:
        _restore_nullable(body_schema, REQUEST_MODELS[path])
    if path in RESPONSE_MODELS:
        ok = responses.get("200", {}).get("content", {}).get("application/json", {})
        _restore_nullable(ok.get("schema", {}), RESPONSE_MODELS[path])
    if path in _LIST_PATHS:
        _list_filters(body_schema, action_ids)
    if path.endswith("_csv"):
        _csv_headers(responses)


def _read_operation(post: dict[str, Any]) -> dict[str, Any]:
    """The GET twin of a read's POST: the body's fields as query parameters, no body answers."""
    body = post.get("requestBody", {}).get("content", {}).get("application/json", {})
    get = {key: copy.deepcopy(value) for key, value in post.items() if key != "requestBody"}
    get["operationId"] = f"{post['operationId']}__get"
    get["parameters"] = query_parameters(body.get("schema", {}))
    for status in _BODY_ONLY:
        get["responses"].pop(status, None)
    return get


def complete_document(
    document: dict[str, Any],
    action_ids: Sequence[str],
    api_contact: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A copy of BentoML's document, completed as the module docstring lists (`action_ids`:
    the served catalogue's; `api_contact`: the document's contact, default RETAIN_API_CONTACT)."""
    completed = _without_io_suffix(copy.deepcopy(document))
    completed["info"] = {**info(), "contact": api_contact or contact()}
    completed["tags"] = copy.deepcopy(TAGS)
    schemas = completed.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorMessage"] = _ERROR_SCHEMA
    invalid = schemas.get("InvalidArgument", {}).get("properties", {})
    if "detail" in invalid:
        invalid["detail"] = _VALIDATION_DETAIL
    for name in ("ChurnListRequest", "ActionPlanRequest"):
        if name in schemas:
            _list_filters(schemas[name], action_ids)
    paths = completed.get("paths", {})
    for path, item in paths.items():
        post = item.get("post")
        if isinstance(post, dict) and "x-bentoml-name" in post:  # one of our APIs
            _complete_operation(path, post, action_ids)
            if post["x-bentoml-name"] in READS:
                item["get"] = _read_operation(post)
        elif path == "/metrics":
            item["get"]["responses"].setdefault("401", _error_response(_EXTRA["401"]))
    return completed


class OpenApiDocMiddleware:
    """Rewrites BentoML's GET /docs.json answer through `complete_document`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._action_ids: tuple[str, ...] | None = None
        self._contact = contact()  # RETAIN_API_CONTACT, read when the server builds its app

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

        def rewrite(status: int, body: bytes) -> dict[str, Any]:
            return complete_document(json.loads(body), self.action_ids(), self._contact)

        await rewrite_json_answers(
            self.app, scope, receive, send, lambda status: status == 200, rewrite
        )
