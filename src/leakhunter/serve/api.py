"""serve's HTTP side: /metrics, health, the JSON API and the pages (a Starlette app).

Everything here reads state; nothing a client sends makes serve fetch a URL
(targets come only from configuration) or write anywhere, and the only files
it serves are those of evidence captures the database indexes for a target,
by a fixed list of names. Who may read is :mod:`leakhunter.serve.guard`'s
business. The pages are built from the same documents as the API (one view,
two renderings), so what a person sees is what a tool reads.

The fleet page polls ``/api/targets?sparklines=1`` every few seconds; an ETag
over what the fleet shows (a digest of every target's latest scrape) answers
304 while nothing changed, so an open browser costs serve next to nothing
between scrapes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Route

from leakhunter.report.data import ReportData, gather
from leakhunter.serve.guard import ApiOptions, Guard, new_nonce, page_policy
from leakhunter.serve.history import (
    SPARK_SPAN,
    Sparklines,
    evidence,
    find_capture,
    rfc3339,
    target_history,
)
from leakhunter.serve.metrics import ServeCollector
from leakhunter.serve.pages import Pages
from leakhunter.serve.pyroscope import ExportCounts
from leakhunter.serve.scheduler import Scheduler
from leakhunter.serve.store import Store
from leakhunter.serve.worker import TargetStatus

__all__ = ["ApiOptions", "TARGETS_SCHEMA", "make_app", "status_json"]

TARGETS_SCHEMA = "leakhunter.targets/1"
#: how often the fleet page asks for news, unless its URL says ``?poll=SECONDS``
POLL_SECONDS = 5.0
_MEDIA = {".json": "application/json", ".txt": "text/plain; charset=utf-8"}


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
        "last_scrape": rfc3339(s.last_scrape),
        "scrape_duration_seconds": s.scrape_seconds,
        "heap_live_bytes": s.heap,
        "goroutines": s.goroutines,
        "open_fds": s.fds,
        "time_to_oom_seconds": s.time_to_oom,
        "quiet": s.quiet,
        "findings": [dict(f) for f in s.findings],
    }


def fleet_etag(statuses: Sequence[TargetStatus], variant: str, now: float) -> str:
    """Return an ETag for the fleet as of now: it changes with any scrape, label or minute.

    The minute is in it because a sparkline's window slides even when no
    target was scraped (a fleet of down targets still ages).
    """
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{variant}|{int(now // 60)}".encode())
    for s in statuses:
        key = (s.id, s.snapshots, s.last_scrape, s.status, s.up, s.quiet, sorted(s.labels.items()))
        h.update(repr(key).encode())
    return f'"{h.hexdigest()}"'


def _number(request: Request, name: str, default: float, low: float, high: float) -> float:
    """Return a numeric query parameter clamped to [low, high] (default when absent or bad)."""
    try:
        value = float(request.query_params.get(name, default))
    except ValueError:
        return default
    return min(high, max(low, value)) if value == value else default


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
    pages = Pages()
    #: the last fleet document per variant: (ETag, JSON body); many browsers share it
    cached: dict[str, tuple[str, bytes]] = {}
    sparklines = Sparklines(store)  # the default span's, kept between polls

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def ready(request: Request) -> Response:
        if scheduler.loaded.is_set():
            return PlainTextResponse("ready\n")
        return PlainTextResponse("loading targets\n", status_code=503)

    def _fleet(span: float | None) -> tuple[str, bytes]:
        """Return the fleet document (with sparklines over ``span`` seconds unless None)."""
        now = time.time()
        statuses = scheduler.statuses()
        variant = "plain" if span is None else f"spark{span:g}"
        tag = fleet_etag(statuses, variant, now)
        hit = cached.get(variant)
        if hit is not None and hit[0] == tag:
            return hit
        docs = [status_json(s) for s in statuses]
        if span is not None:
            # another span is read whole each time: a client's choice grows no cache
            source = sparklines if span == SPARK_SPAN else Sparklines(store, span)
            lines = source.get({s.id: s.last_scrape for s in statuses}, now)
            for d in docs:
                d["sparklines"] = lines[d["id"]]
        body = json.dumps({"schema": TARGETS_SCHEMA, "targets": docs}).encode()
        if variant in ("plain", f"spark{SPARK_SPAN:g}"):
            cached[variant] = (tag, body)
        return tag, body

    async def targets(request: Request) -> Response:
        span = None
        if request.query_params.get("sparklines", "0") not in ("0", "", "false"):
            span = _number(request, "span", SPARK_SPAN, 60.0, 7 * 86400.0)
        tag, body = await run_in_threadpool(_fleet, span)
        headers = {"ETag": tag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    def _one(
        tid: str, with_report: bool = False
    ) -> tuple[TargetStatus, dict[str, Any], ReportData | None] | None:
        worker = scheduler.worker(tid)
        if worker is None:
            return None
        st = worker.public
        judged = worker.judged
        doc: dict[str, Any] = dict(st.doc or {"schema": "leakhunter.verdict/1", "findings": []})
        doc["verdict"] = st.verdict  # "pending" during the quiet period
        doc["findings"] = [dict(f) for f in st.findings]
        doc.setdefault("windows", [])
        doc.setdefault("snapshots", st.snapshots)  # not judged since serve started: as stored
        doc.update(id=st.id, target=st.url, labels=dict(st.labels), status=st.status, up=st.up)
        doc["last_scrape"] = rfc3339(st.last_scrape)
        doc["events"] = store.events(tid, limit=50)
        doc["evidence"] = evidence(store.files("evidence", tid), tid)
        doc["history"] = target_history(store, tid)
        # the report's views (flame graphs, goroutine groups) cost; only the page wants them
        report = None if judged is None or not with_report else gather(judged.verdict, judged.edges)
        return st, doc, report

    async def target(request: Request) -> Response:
        got = await run_in_threadpool(_one, request.path_params["tid"])
        if got is None:
            return JSONResponse({"error": "no such target"}, status_code=404)
        return JSONResponse(got[1])

    async def fleet(request: Request) -> Response:
        tag, body = await run_in_threadpool(_fleet, SPARK_SPAN)
        nonce = new_nonce()
        poll = _number(request, "poll", POLL_SECONDS, 1.0, 300.0)
        html = pages.fleet(json.loads(body), nonce, poll, tag)
        return HTMLResponse(html, headers={"Content-Security-Policy": page_policy(nonce)})

    def _page(tid: str, nonce: str) -> str | None:
        got = _one(tid, with_report=True)
        return None if got is None else pages.target(got[0], got[1], got[2], nonce)

    async def target_page(request: Request) -> Response:
        nonce = new_nonce()
        html = await run_in_threadpool(_page, request.path_params["tid"], nonce)
        if html is None:
            return PlainTextResponse("no such target\n", status_code=404)
        return HTMLResponse(html, headers={"Content-Security-Policy": page_policy(nonce)})

    def _capture_file(tid: str, name: str, file: str) -> Path | None:
        path = find_capture(evidence(store.files("evidence", tid), tid), name, file)
        return path if path is not None and path.is_file() else None

    async def evidence_file(request: Request) -> Response:
        p = request.path_params
        path = await run_in_threadpool(_capture_file, p["tid"], p["capture"], p["file"])
        if path is None:
            return PlainTextResponse("no such evidence file\n", status_code=404)
        media = _MEDIA.get(path.suffix, "application/gzip")
        inline = path.suffix in _MEDIA
        return FileResponse(
            path,
            media_type=media,
            filename=f"{p['tid']}-{p['capture']}-{path.name}",
            content_disposition_type="inline" if inline else "attachment",
        )

    routes = [
        Route("/metrics", metrics),
        Route("/-/healthy", healthy),
        Route("/-/ready", ready),
        Route("/api/targets", targets),
        Route("/api/targets/{tid}", target),
        Route("/", fleet),
        Route("/targets/{tid}", target_page),
        Route("/targets/{tid}/evidence/{capture}/{file}", evidence_file),
    ]
    # The fleet document is ~2.5 KB per target (each finding's stack): gzip makes a
    # browser's poll of 1,000 targets ~10x smaller; level 5, not 9, keeps it cheap.
    middleware = [
        Middleware(Guard, options=options),
        Middleware(GZipMiddleware, minimum_size=1024, compresslevel=5),
    ]
    return Starlette(routes=routes, middleware=middleware)
