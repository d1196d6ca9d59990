"""BentoML's request timeout, with its timer cancelled when the request ends.

Why: BentoML 1.4's `TimeoutMiddleware` arms `loop.call_later(timeout, …)` for every request
and never cancels it. Each timer keeps its request's context (tracing span, futures, locks:
about twenty objects) alive for the whole `traffic.timeout`, 120 s here. At 200 requests/s
that is ~24,000 dead requests per worker, and the collector's full passes over them stalled
every request in flight for 50–400 ms every few seconds: p99 265 ms against a 1.6 ms median
(benchmarks/bench_load.py). Same behaviour otherwise: a request that has not started its
answer within the timeout is cancelled and answered 504.

`install()` replaces the middleware's `__call__` once per process; the service calls it at
import, before BentoML builds its app in the worker.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import JSONResponse

_INSTALLED = "_retain_cancels_its_timer"


def _expire(answered: asyncio.Future[None]) -> None:
    if not answered.done():
        answered.set_exception(TimeoutError())


async def timed_call(middleware: Any, scope: Any, receive: Any, send: Any) -> None:
    """Run the app; answer 504 if it has not begun answering within `middleware.timeout`."""
    if scope["type"] not in ("http", "websocket"):
        await middleware.app(scope, receive, send)
        return
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[None] = loop.create_future()

    def started() -> None:
        if not answered.done():
            answered.set_result(None)

    async def send_and_mark(message: Any) -> None:
        started()
        await send(message)

    timer = loop.call_later(middleware.timeout, _expire, answered)
    handler = asyncio.ensure_future(middleware.app(scope, receive, send_and_mark))
    handler.add_done_callback(lambda _: started())  # an app that fails without answering
    try:
        await answered
    except TimeoutError:
        if handler.cancel():
            message = f"Not able to process the request in {middleware.timeout} seconds"
            await JSONResponse({"error": message}, status_code=504)(scope, receive, send)
        return
    finally:
        timer.cancel()
    await handler


def install() -> None:
    """Make BentoML's `TimeoutMiddleware` use `timed_call` (idempotent)."""
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    if getattr(TimeoutMiddleware, _INSTALLED, False):
        return

    async def __call__(self: Any, scope: Any, receive: Any, send: Any) -> None:  # noqa: N807
        await timed_call(self, scope, receive, send)

    TimeoutMiddleware.__call__ = __call__  # type: ignore[method-assign]
    setattr(TimeoutMiddleware, _INSTALLED, True)
