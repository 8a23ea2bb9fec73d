"""Who may read serve, and what a browser may do with what it reads.

With a token configured, every endpoint but the health checks (and
``/metrics`` unless protected) needs it, as ``Authorization: Bearer TOKEN``
(tools, Prometheus) or as the password of HTTP Basic auth (browsers: they ask
for it once and send it with every request of the page, its polls included;
the user name is ignored). The token is compared in constant time and never
logged.

Every answer carries headers that keep a browser from doing more than showing
it: no MIME sniffing, no framing, no referrer to the sites a report links to.
Pages add a Content-Security-Policy that allows only their own inline script
(by a fresh nonce per answer), inline styles, and requests back to serve: a
page cannot load anything from anywhere else, even if a string from a target
slipped past escaping.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

__all__ = ["ApiOptions", "Guard", "new_nonce", "page_policy"]

#: answered without a token: liveness and readiness probes carry no credentials
_OPEN = ("/-/healthy", "/-/ready")
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
#: what a non-page answer (JSON, text, files) may do if opened in a browser: nothing
_NO_CONTENT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


@dataclass(frozen=True)
class ApiOptions:
    """Who may read what."""

    token: str | None = None
    protect_metrics: bool = False


def new_nonce() -> str:
    """Return a fresh script nonce (one per page answered)."""
    return secrets.token_urlsafe(18)


def page_policy(nonce: str) -> str:
    """Return the Content-Security-Policy of a page whose one inline script has ``nonce``.

    Styles stay ``'unsafe-inline'``: the report's flame graph positions frames
    with style attributes, and a style cannot run code or send data anywhere
    that ``default-src 'none'`` and ``connect-src 'self'`` leave open.
    """
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def _token_of(header: str) -> str | None:
    """Return the token an Authorization header carries (Bearer, or Basic's password)."""
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


class Guard(BaseHTTPMiddleware):
    """Ask for the token where one is configured; add the safety headers to every answer."""

    def __init__(self, app: Any, options: ApiOptions) -> None:
        super().__init__(app)
        self.options = options

    def _allowed(self, request: Request) -> bool:
        token = self.options.token
        path = request.url.path
        if token is None or path in _OPEN:
            return True
        if path == "/metrics" and not self.options.protect_metrics:
            return True
        given = _token_of(request.headers.get("authorization", ""))
        return given is not None and hmac.compare_digest(given.encode(), token.encode())

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Answer 401 without the token, else pass on; then add the headers."""
        if self._allowed(request):
            response = await call_next(request)
        else:
            response = PlainTextResponse(
                "unauthorized: send Authorization: Bearer TOKEN "
                "(a browser asks for it: any user name, the token as password)\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="leakhunter"'},
            )
            # a second header, not a second challenge in the first: Chromium reads
            # one challenge per header, and prompts only for schemes it knows (Basic)
            response.headers.append("WWW-Authenticate", 'Basic realm="leakhunter"')
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", _NO_CONTENT_POLICY)
        return response
