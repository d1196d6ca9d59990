"""The operator page: a small static web app mounted into the Bento at /ui/.

Why static files and the existing API rather than server-rendered HTML: the page shows exactly
what the API answers, so it can never disagree with the API or the CLI, and there is no second
code path to test. What it shows, top to bottom:
- the two lists, first, under one filter form: "Churn list — whom we are about to lose"
  (`/churn_list`, by value at risk) and "Action plan — whom we contact" (`/action_plan`, by
  expected gain, with the plan's totals against the upper bound), each downloadable as CSV
  (`/churn_list_csv`, `/action_plan_csv`) with the filters shown;
- a budget what-if (`/what_if`): the same scores decided again under another budget;
- the summary of all users (`/segment_summary`) as key figures and interactive charts, and the
  churn-risk distribution with its change since the previous snapshot (`/risk_change`);
- one user's explanation in a side panel when their id is clicked (`/explain`, `/recommend`).
Ids are shown as labels ("At risk", the playbook's action names).
The shell (HTML, plain JavaScript modules, one stylesheet, and Chart.js vendored in
`static/vendor/` with its version and licence; no build step, no CDN, since deployments may be
offline) holds no data, so it is served without the API key: an operator must be able to open
it to type the key. Every data call carries the key in `X-API-Key`; the page keeps it in
`sessionStorage` (gone when the tab closes, never in a URL or a cookie).

A strict Content-Security-Policy keeps the page to its own origin (scripts, styles, data).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

PAGE_PATH = "/ui"
STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every answer of the page app (HTML and static files alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode("latin-1") not in present:
                        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def page_app(static_dir: Path = STATIC_DIR) -> Starlette:
    """The ASGI app to mount at PAGE_PATH: `/` is the page, `/static/*` its script and styles."""
    index = static_dir / "index.html"

    async def page(request: Request) -> Response:
        return FileResponse(index, media_type="text/html; charset=utf-8")

    app = Starlette(
        routes=[
            Route("/", page, methods=["GET", "HEAD"]),
            Mount("/static", app=StaticFiles(directory=static_dir), name="static"),
        ]
    )
    app.add_middleware(_SecurityHeaders)
    return app
