"""Error answers a client can read: JSON, one sentence naming each bad field, no class names.

Why a middleware: BentoML answers a body that fails validation with
`{"error": "1 validation error for ChurnListRequestIODescriptor", "detail": [...]}`, a message
that names a class of BentoML's making instead of the field; a method it does not route gets
Starlette's plain-text "Method Not Allowed"; and its own 4xx exceptions arrive as a one-element
JSON list. None of that is configurable in BentoML 1.4, so the answers are rewritten on their
way out, on the API's paths only: `error` becomes `invalid request: user_ids: List should have
at least 1 item after validation, not 0` (every problem, `; `-separated), and `detail` keeps
pydantic's list (`type`, `loc`, `msg`) for programs, with the same clean field names. Only
error answers are buffered; a 2xx passes straight through.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any

from serving.api.asgi import App, Receive, Scope, Send, rewrite_json_answers

_NOT_ALLOWED = 405


def _field(loc: Iterable[Any]) -> str:
    """`("user_ids", 3)` → `user_ids[3]`; pydantic's union and validator tags
    (`function-after[...]`, `constrained-str`) are left out: they are not the client's words."""
    where = ""
    for part in loc:
        if isinstance(part, int):
            where += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            where += f".{part}" if where else part
    return where


def clean_problems(errors: Sequence[MutableMapping[str, Any]]) -> list[dict[str, Any]]:
    """pydantic's errors as the answer's `detail`: type, field path, message (no URL, no input)."""
    cleaned = []
    for error in errors:
        loc = [part for part in error.get("loc", ()) if isinstance(part, int) or _field([part])]
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        cleaned.append({"type": str(error.get("type", "")), "loc": loc, "msg": message})
    return cleaned


def describe(problems: Sequence[MutableMapping[str, Any]]) -> str:
    """One sentence for the whole request: every problem, with the field it is about."""
    sentences: list[str] = []
    for problem in problems:
        kind, message = problem.get("type"), str(problem.get("msg", ""))
        where = _field(problem.get("loc", ()))
        if kind == "json_invalid":
            sentence = f"the body is not valid JSON ({message.removeprefix('Invalid JSON: ')})"
        elif kind == "model_type" and not where:
            sentence = "the body must be a JSON object"
        else:
            sentence = f"{where}: {message}" if where else message
        if sentence not in sentences:
            sentences.append(sentence)
    return "invalid request: " + "; ".join(sentences)


def invalid_request(problems: Sequence[MutableMapping[str, Any]]) -> dict[str, Any]:
    """The body of a 400 for these problems (already cleaned, or pydantic's own)."""
    cleaned = clean_problems(problems)
    return {"error": describe(cleaned), "detail": cleaned}


def _rewritten(status: int, body: bytes, method: str, path: str) -> dict[str, Any]:
    """The client's version of one error answer."""
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], dict):
        payload = payload[0]  # BentoML wraps its own 4xx exceptions in a list
    if isinstance(payload, dict) and isinstance(payload.get("detail"), list) and status == 400:
        return invalid_request(payload["detail"])
    if status == _NOT_ALLOWED:
        return {"error": f"{method} is not allowed on {path}: use POST"}  # its only route
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return {"error": payload["error"]}
    text = body.decode("utf-8", errors="replace").strip() or f"HTTP {status}"
    return {"error": text}


class ErrorBodyMiddleware:
    """Rewrites the 4xx answers of the API's paths (`paths`) through `_rewritten`."""

    def __init__(self, app: App, paths: Iterable[str]) -> None:
        self.app = app
        self._paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self._paths:
            await self.app(scope, receive, send)
            return

        def rewrite(status: int, body: bytes) -> dict[str, Any]:
            return _rewritten(status, body, scope["method"], scope["path"])

        await rewrite_json_answers(
            self.app, scope, receive, send, lambda status: 400 <= status < 500, rewrite
        )
