"""serve's HTTP side: /metrics, health, the JSON API and the pages (a Starlette app).

Everything here reads state; nothing a client sends makes serve fetch a URL
(targets come only from configuration) or write anywhere. With a token
configured, every endpoint but the health checks needs ``Authorization:
Bearer TOKEN`` (``/metrics`` too when ``protect_metrics`` is set, so
Prometheus scrapes it with ``authorization.credentials_file``). The token is
compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from leakhunter.report.data import gather
from leakhunter.report.html import render_html
from leakhunter.serve.metrics import ServeCollector
from leakhunter.serve.pages import fleet_page
from leakhunter.serve.pyroscope import ExportCounts
from leakhunter.serve.scheduler import Scheduler
from leakhunter.serve.store import Store
from leakhunter.serve.worker import TargetStatus

__all__ = ["ApiOptions", "TARGETS_SCHEMA", "make_app", "status_json"]

TARGETS_SCHEMA = "leakhunter.targets/1"
#: answered without a token: liveness and readiness probes carry no credentials
_OPEN = ("/-/healthy", "/-/ready")


@dataclass(frozen=True)
class ApiOptions:
    """Who may read what."""

    token: str | None = None
    protect_metrics: bool = False


def _rfc3339(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def status_json(s: TargetStatus) -> dict[str, Any]:
    """Return one target as in ``leakhunter.targets/1``."""
    return {
        "id": s.id,
        "target": s.url,
        "labels": dict(s.labels),
        "up": s.up,
        "status": s.status,
        "verdict": s.verdict,
        "snapshots": s.snapshots,
        "last_scrape": _rfc3339(s.last_scrape),
        "scrape_duration_seconds": s.scrape_seconds,
        "heap_live_bytes": s.heap,
        "goroutines": s.goroutines,
        "open_fds": s.fds,
        "time_to_oom_seconds": s.time_to_oom,
        "quiet": s.quiet,
        "findings": [dict(f) for f in s.findings],
    }


class _Auth(BaseHTTPMiddleware):
    def __init__(self, app: Any, options: ApiOptions) -> None:
        super().__init__(app)
        self.options = options

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        token = self.options.token
        path = request.url.path
        free = path in _OPEN or (path == "/metrics" and not self.options.protect_metrics)
        if token is None or free:
            return await call_next(request)
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
            return PlainTextResponse(
                "unauthorized: send Authorization: Bearer TOKEN\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="leakhunter"'},
            )
        return await call_next(request)


def make_app(
    scheduler: Scheduler,
    store: Store,
    top_findings: int,
    options: ApiOptions,
    exports: Callable[[], ExportCounts] | None = None,
) -> Starlette:
    """Build the ASGI app over a running scheduler (``exports``: the Pyroscope counters)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(
        ServeCollector(scheduler.statuses, top_findings, scheduler.lag_quantiles, exports)
    )

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def ready(request: Request) -> Response:
        if scheduler.loaded.is_set():
            return PlainTextResponse("ready\n")
        return PlainTextResponse("loading targets\n", status_code=503)

    async def targets(request: Request) -> Response:
        docs = [status_json(s) for s in scheduler.statuses()]
        return JSONResponse({"schema": TARGETS_SCHEMA, "targets": docs})

    def _one(tid: str) -> dict[str, Any] | None:
        worker = scheduler.worker(tid)
        if worker is None:
            return None
        st = worker.public
        doc: dict[str, Any] = dict(st.doc or {"schema": "leakhunter.verdict/1", "findings": []})
        doc["verdict"] = st.verdict  # "pending" during the quiet period
        doc["findings"] = [dict(f) for f in st.findings]
        doc.setdefault("windows", [])
        doc.update(id=st.id, target=st.url, labels=dict(st.labels), status=st.status, up=st.up)
        doc["last_scrape"] = _rfc3339(st.last_scrape)
        doc["events"] = store.events(tid, limit=50)
        doc["evidence"] = [
            {"path": f.path, "time": _rfc3339(f.time), "bytes": f.bytes}
            for f in store.files("evidence")
            if f.target == tid
        ]
        return doc

    async def target(request: Request) -> Response:
        doc = await run_in_threadpool(_one, request.path_params["tid"])
        if doc is None:
            return JSONResponse({"error": "no such target"}, status_code=404)
        return JSONResponse(doc)

    async def fleet(request: Request) -> Response:
        return HTMLResponse(fleet_page(scheduler.statuses()))

    def _page(tid: str) -> str | None:
        worker = scheduler.worker(tid)
        if worker is None or worker.judged is None:
            return None
        return render_html(gather(worker.judged.verdict, worker.judged.edges))

    async def target_page(request: Request) -> Response:
        html = await run_in_threadpool(_page, request.path_params["tid"])
        if html is None:
            return PlainTextResponse("no such target, or no verdict yet\n", status_code=404)
        return HTMLResponse(html)

    routes = [
        Route("/metrics", metrics),
        Route("/-/healthy", healthy),
        Route("/-/ready", ready),
        Route("/api/targets", targets),
        Route("/api/targets/{tid}", target),
        Route("/", fleet),
        Route("/targets/{tid}", target_page),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_Auth, options=options)])
