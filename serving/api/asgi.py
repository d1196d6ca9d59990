"""The raw ASGI shapes the service's middlewares share, and a JSON answer written on them.

Why raw ASGI rather than Starlette's BaseHTTPMiddleware: the middlewares answer before BentoML
reads a body (size, type, key, GET reads) or rewrite its answer as it leaves (errors, the
OpenAPI document), buffering only the answers they rewrite.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(
    send: Send, status: int, payload: Any, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """A complete JSON answer on a raw ASGI `send`, with any extra `headers`."""
    body = json.dumps(payload).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def rewrite_json_answers(
    app: App,
    scope: Scope,
    receive: Receive,
    send: Send,
    wanted: Callable[[int], bool],
    rewrite: Callable[[int, bytes], Any],
) -> None:
    """Run `app`, passing its answers through, except those whose status is `wanted`: their body
    is buffered and sent as the JSON `rewrite(status, body)` returns, other headers kept."""
    start: MutableMapping[str, Any] = {}
    chunks: list[bytes] = []

    async def capture(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and wanted(message["status"]):
            start.update(message)
            return
        if start and message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                status = start["status"]
                replaced = (b"content-length", b"content-type")
                kept = [(k, v) for k, v in start.get("headers", []) if k.lower() not in replaced]
                await send_json(send, status, rewrite(status, b"".join(chunks)), kept)
            return
        await send(message)

    await app(scope, receive, capture)
