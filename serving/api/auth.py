"""An optional API key in front of every endpoint except the health probes.

Why an ASGI middleware and not a check inside each API method: BentoML maps exceptions with
status 401 to a generic "Authorization error" body, and a check per method is easy to forget on
the next endpoint. The middleware answers before the request reaches BentoML, so the docs,
the metrics and every API are covered, while orchestrators can still probe /livez and /readyz.
`open_prefixes` lets data-free static assets through (the operator page's shell, which must
load before the operator has typed a key; its data calls carry the key). The key is compared
in constant time.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence

from serving.api.asgi import App, Receive, Scope, Send, send_json
from serving.api.settings import API_KEY_ENV, API_KEY_HEADER

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz"})


class ApiKeyMiddleware:
    """Rejects HTTP requests without the right `X-API-Key` with 401, when a key is configured.

    The key comes from `api_key`, else from the environment variable `RETAIN_API_KEY` at the
    moment the server builds its app (never at import). No key configured: a pass-through.
    """

    def __init__(
        self, app: App, api_key: str | None = None, open_prefixes: Sequence[str] = ()
    ) -> None:
        self.app = app
        self._open_prefixes = tuple(prefix.rstrip("/") for prefix in open_prefixes)
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._key = key.encode("utf-8") if key else None
        self._header = API_KEY_HEADER.lower().encode("ascii")

    def _is_open(self, path: str) -> bool:
        """A probe, or a path at or under an open prefix ("/ui" opens "/ui/x", not "/uix")."""
        if path in OPEN_PATHS:
            return True
        if ".." in path.split("/"):  # never let a dot-segment climb out of an open prefix
            return False
        return any(path == p or path.startswith(f"{p}/") for p in self._open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._key is None or scope["type"] != "http" or self._is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == self._header), None)
        if given is not None and hmac.compare_digest(given, self._key):
            await self.app(scope, receive, send)
            return
        problem = "missing" if given is None else "wrong"
        message = f"{problem} API key: send the key in the {API_KEY_HEADER} header"
        challenge = [(b"www-authenticate", API_KEY_HEADER.encode("ascii"))]
        await send_json(send, 401, {"error": message}, challenge)
