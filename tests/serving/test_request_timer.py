"""BentoML's request timeout with its timer cancelled: same answers, nothing left scheduled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bentoml._internal.server.http.traffic import TimeoutMiddleware

from serving.api import request_timer

SCOPE = {"type": "http", "method": "POST", "path": "/score", "headers": []}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _app(delay: float = 0.0, fail: bool = False):
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(delay)
        if fail:
            raise RuntimeError("broken handler")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def _serve(middleware: TimeoutMiddleware) -> tuple[list[dict[str, Any]], int]:
    """Messages sent, and the timers the loop still has armed after the request."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await middleware(SCOPE, _receive, send)
    await asyncio.sleep(0)  # a cancelled handler drops its own sleep timer on the next tick
    loop = asyncio.get_running_loop()
    armed = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    return sent, len(armed)


@pytest.fixture(autouse=True)
def installed() -> None:
    request_timer.install()


def test_a_finished_request_leaves_no_timer_armed() -> None:
    sent, armed = asyncio.run(_serve(TimeoutMiddleware(_app(), timeout=120)))
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"ok"
    # BentoML 1.4.39's own middleware leaves one 120-second timer per request here,
    # holding the request's context alive (the tail-latency cause this module fixes).
    assert armed == 0


def test_a_request_slower_than_the_timeout_is_cancelled_and_answered_504() -> None:
    sent, armed = asyncio.run(_serve(TimeoutMiddleware(_app(delay=5.0), timeout=0.05)))
    assert sent[0]["status"] == 504
    assert b"0.05 seconds" in sent[1]["body"]
    assert armed == 0


def test_a_handler_that_fails_before_answering_raises_at_once_not_at_the_timeout() -> None:
    async def run() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RuntimeError, match="broken handler"):
            await _serve(TimeoutMiddleware(_app(fail=True), timeout=30))
        return loop.time() - started

    assert asyncio.run(run()) < 5


def test_install_is_idempotent_and_routes_bentoml_through_the_fixed_call() -> None:
    request_timer.install()
    request_timer.install()
    assert getattr(TimeoutMiddleware, request_timer._INSTALLED)
    sent, armed = asyncio.run(_serve(TimeoutMiddleware(_app(), timeout=60)))
    assert (sent[0]["status"], armed) == (200, 0)
