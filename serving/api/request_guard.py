"""Checks on a request before BentoML sees it: body size (413) and body type (415).

Why a middleware: BentoML reads the whole body into memory before validating it, so without a
cap one client could exhaust a worker's memory with a single request. A declared
`Content-Length` over the cap is refused without reading anything; a chunked body is read up to
the cap and refused as soon as it passes it. The default (serving.api.settings) leaves ample room
for the largest valid request (10,000 ids of up to 256 characters).
Every API takes JSON; BentoML would also try to parse other types, and a `multipart/form-data`
without a boundary made it answer 500 (found by fuzzing), so any declared type other than
JSON gets 415 with a message instead.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from serving.api.asgi import App, Receive, Scope, Send, send_json
from serving.api.settings import DEFAULT_MAX_BODY_BYTES, ENV_PREFIX, SettingsError

MAX_BODY_ENV = f"{ENV_PREFIX}MAX_BODY_BYTES"


def max_body_bytes_from_env() -> int:
    """RETAIN_MAX_BODY_BYTES, or the default; read when the server builds its app."""
    raw = os.environ.get(MAX_BODY_ENV) or str(DEFAULT_MAX_BODY_BYTES)
    if not raw.isdigit() or int(raw) < 1024:
        raise SettingsError(f"{MAX_BODY_ENV} must be a whole number of bytes >= 1024, not {raw!r}")
    return int(raw)


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class RequestGuardMiddleware:
    """413 for bodies over `max_bytes` (default: from the environment), 415 for non-JSON POSTs."""

    def __init__(self, app: App, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_body_bytes_from_env() if max_bytes is None else max_bytes

    def _too_large(self, send: Send) -> Any:
        return send_json(
            send,
            413,
            {"error": f"request body too large: the limit is {self.max_bytes} bytes"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        content_type = headers.get(b"content-type")
        if scope["method"] == "POST" and content_type is not None and not _is_json(content_type):
            shown = content_type.decode("latin-1")[:100]
            message = f"unsupported Content-Type {shown!r}: send application/json"
            await send_json(send, 415, {"error": message})
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._too_large(send)
                return
            await self.app(scope, receive, send)  # the server enforces the declared length
            return
        if headers.get(b"transfer-encoding", b"").lower() != b"chunked":
            await self.app(scope, receive, send)
            return
        # Chunked: read up to the cap, then replay the body as one message.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)


def _replay(
    chunks: list[bytes], pending: MutableMapping[str, Any] | None, receive: Receive
) -> Receive:
    """A `receive` that first hands out the buffered body (or message), then the real one."""
    queue: list[MutableMapping[str, Any]] = []
    if pending is not None:
        queue.append(pending)
    else:
        queue.append({"type": "http.request", "body": b"".join(chunks), "more_body": False})

    async def replayed() -> MutableMapping[str, Any]:
        if queue:
            return queue.pop(0)
        return await receive()

    return replayed
