"""GET for the reads: the two lists (JSON and CSV), the segment summary and the model facts.

Why a middleware: BentoML 1.4 routes every `@bentoml.api` as POST only, and writing each read
a second time (a mounted FastAPI app) would let the two drift apart. Instead a GET on one of
READS is turned into the POST its query string describes before BentoML sees it, so both
methods run the same validation and the same code and answer the same numbers; the API key
(checked outside this middleware) and the request guard apply to both alike.

The query parameters are the JSON body's fields, by the same names: a list field takes the
parameter repeated (`?stage=at_risk&stage=dormant`) or comma-separated (`?stage=at_risk,dormant`),
a number is read as a number. A parameter the endpoint does not take, or a single-valued one
given twice, is a 400 naming it. Deprecated body aliases (`stages`, …) are not offered here:
GET is new, so it has only the current names.

Why not GET for /score, /recommend, /explain and /risk_change: they take user ids, and a URL
ends up in access logs and proxies' logs, where user ids must not; they stay POST bodies.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel

from serving.api.asgi import App, Receive, Scope, Send, send_json
from serving.api.error_bodies import invalid_request

READS: tuple[str, ...] = (
    "model_info",
    "segment_summary",
    "churn_list",
    "churn_list_csv",
    "action_plan",
    "action_plan_csv",
)
Kind = Literal["list", "integer", "number", "string"]
_INTEGER = re.compile(r"[+-]?\d{1,19}")


def _branches(prop: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A property's schema alternatives, `null` left out (a query cannot say null)."""
    options = prop.get("anyOf", [prop])
    return [option for option in options if option.get("type") != "null"]


def _kind(prop: Mapping[str, Any]) -> Kind:
    types = {option.get("type") for option in _branches(prop)}
    if "array" in types:
        return "list"
    if types == {"integer"}:
        return "integer"
    if types == {"number"}:
        return "number"
    return "string"


def query_fields(request_schema: Mapping[str, Any]) -> dict[str, Kind]:
    """The fields a GET may set (by name) and how their text is read; deprecated ones left out."""
    return {
        name: _kind(prop)
        for name, prop in request_schema.get("properties", {}).items()
        if not prop.get("deprecated")
    }


def query_parameters(request_schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The OpenAPI `parameters` of the GET twin of a POST whose body has this schema."""
    parameters = []
    for name, kind in query_fields(request_schema).items():
        prop = request_schema["properties"][name]
        branch = next(o for o in _branches(prop) if kind != "list" or o.get("type") == "array")
        schema = {k: v for k, v in branch.items() if k not in ("title", "default", "description")}
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False}
        parameter["schema"] = schema
        if prop.get("description"):
            parameter["description"] = prop["description"]
        if kind == "list":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def _scalar(text: str, kind: Kind) -> Any:
    """The query text as the JSON value it stands for; text that is not one stays text, so the
    request model refuses it with its own message (`Input should be a valid integer`)."""
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text
    return text


def body_from_query(
    query_string: bytes, fields: Mapping[str, Kind]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the JSON body a query string stands for, the problems found reading it)."""
    body: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    text = query_string.decode("utf-8", errors="replace")
    for name, value in parse_qsl(text, keep_blank_values=True):
        kind = fields.get(name)
        if kind is None:
            taken = ", ".join(fields) or "no parameters"
            message = f"not a parameter of this endpoint (it takes: {taken})"
            problems.append({"type": "extra_forbidden", "loc": [name], "msg": message})
        elif kind == "list":
            body.setdefault(name, []).append(value)
        elif name in body:
            problems.append({"type": "repeated", "loc": [name], "msg": "given more than once"})
        else:
            body[name] = _scalar(value, kind)
    return body, problems


class ReadRoutesMiddleware:
    """Answers GET on the read paths (`reads`: path → its request body's JSON schema) through
    the POST API of the same path; every other request passes through untouched."""

    def __init__(self, app: App, reads: Mapping[str, Mapping[str, Any]]) -> None:
        self.app = app
        self._fields = {path: query_fields(schema) for path, schema in reads.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fields = self._fields.get(scope["path"]) if scope["type"] == "http" else None
        if fields is None or scope["method"] == "POST":
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":
            message = f"{scope['method']} is not allowed on {scope['path']}: use GET or POST"
            await send_json(send, 405, {"error": message}, [(b"allow", b"GET, POST")])
            return
        body, problems = body_from_query(scope.get("query_string", b""), fields)
        if problems:
            await send_json(send, 400, invalid_request(problems))
            return
        encoded = json.dumps(body).encode("utf-8")
        headers = [
            (k, v)
            for k, v in scope.get("headers", ())
            if k.lower() not in (b"content-type", b"content-length", b"transfer-encoding")
        ]
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(encoded)).encode("ascii")),
        ]
        as_post = {**scope, "method": "POST", "headers": headers, "query_string": b""}
        await self.app(as_post, _body_then(encoded, receive), send)


def _body_then(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `body` as the whole request, then waits on the real one
    (which then only reports the client disconnecting)."""
    sent = False

    async def replayed() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def read_schemas(model_of: Mapping[str, type[BaseModel]]) -> dict[str, dict[str, Any]]:
    """`{"/churn_list": <its request's JSON schema>, …}` for the READS among `model_of`."""
    return {f"/{name}": model_of[name].model_json_schema() for name in READS if name in model_of}
