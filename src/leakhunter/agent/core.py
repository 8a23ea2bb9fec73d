"""The agent's state and request handling, independent of how it is served.

``AgentCore.handle(path, query)`` answers every endpoint; the background
server, the ASGI app and the WSGI app only translate requests. Counters that
``watch`` reads for restart detection behave as Go's do: NumForcedGC rises on
every ``gc=1``, NumGC and TotalAlloc never fall within one process.
"""

from __future__ import annotations

# tracemalloc's C half (start, stop, is_tracing, get_traced_memory): the Python
# module would import pickle and more into the application for nothing
import _tracemalloc as tracemalloc
import asyncio
import gc
import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leakhunter.agent._names import Namer
from leakhunter.agent.heap import (
    Allocator,
    Census,
    Site,
    census,
    process_rss,
    traced_sites,
    type_frame,
)
from leakhunter.agent.profiles import (
    goroutine_debug1,
    goroutine_debug2,
    goroutine_profile,
    heap_profile,
    heap_text,
)
from leakhunter.agent.routines import RoutineTracker

if TYPE_CHECKING:
    from leakhunter.agent.selfwatch import SelfWatch

__all__ = ["AgentCore", "Response"]

_MAX_SECONDS = 120.0
_CENSUS_TTL = 2.0  # debug=1 and the protobuf of one snapshot share one census
_DUTY = 100.0  # a census (or full gc) at most every 100x its own cost: <= 1% of wall time
_TEXT = "text/plain; charset=utf-8"
_OCTET = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer: status, content type, body."""

    status: int
    content_type: str
    body: bytes


def _query(text: str) -> dict[str, str]:
    """Return a query string's parameters (first of each; the agent's are plain numbers).

    Not urllib.parse.parse_qs: that module brings ~800 objects into the application.
    """
    out: dict[str, str] = {}
    for part in text.split("&"):
        key, _, value = part.partition("=")
        out.setdefault(key, value)
    return out


def _arg(query: dict[str, str], key: str, default: float = 0.0) -> float:
    try:
        return float(query.get(key, default))
    except ValueError:
        return default


class AgentCore:
    """Answers pprof-style requests about the current process.

    ``trace`` keeps tracemalloc on (started here with ``trace_frames`` frames if
    it is not already tracing), so heap profiles carry allocation stacks;
    otherwise heap profiles are the type census. ``memory_limit`` is served as
    expvar's ``gomemlimit`` so verdicts can project time-to-OOM.
    """

    def __init__(
        self, *, trace: bool = False, trace_frames: int = 16, memory_limit: int | None = None
    ) -> None:
        self.namer = Namer()
        self.tracker = RoutineTracker(self.namer)
        self.tracker.creators.watch_threads()
        self.memory_limit = memory_limit
        self.trace_frames = trace_frames
        self._lock = threading.Lock()
        self._forced = 0
        self._total = 0
        self._last_heap = 0
        self._census: tuple[float, float, Census] | None = None
        self._census_body: tuple[Census, bytes] | None = None
        self._full_gc: tuple[float, float] | None = None  # (when, cost) of the last full one
        self._allocator = Allocator()
        self.self_watch: SelfWatch | None = None  # set by start(self_watch=True)
        self._own_tracing = False
        if trace and not tracemalloc.is_tracing():
            tracemalloc.start(trace_frames)
            self._own_tracing = True
        self.trace = trace

    def close(self) -> None:
        """Stop self-watching, tracemalloc if this agent started it, and noting who creates."""
        if self.self_watch is not None:
            self.self_watch.stop()
            self.self_watch = None
        self.tracker.creators.close()
        if self._own_tracing:
            tracemalloc.stop()
            self._own_tracing = False

    def add_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """List this event loop's tasks (loops running in threads are also found alone)."""
        self.tracker.add_loop(loop)

    # -- figures -----------------------------------------------------------------

    def _census_now(self, fresh: bool = False) -> Census:
        """Return a census, reused while young so its cost stays under ~1% of wall time.

        A census costs ~1 us per live object; it is redone only once ``_DUTY``
        times its own cost has passed (and never within ``_CENSUS_TTL``), unless
        ``fresh`` asks for one now (no cheaper exact figure exists).
        """
        now = time.monotonic()
        cached = self._census
        if cached is not None and not fresh:
            taken, cost, result = cached
            if now - taken < max(_CENSUS_TTL, cost * _DUTY):
                return result
        result = census()
        self._census = (now, time.monotonic() - now, result)
        return result

    def _collect(self) -> None:
        """Answer ``gc=1``: a full collection, at most at the census's duty rate.

        A full ``gc.collect()`` walks every tracked object holding the GIL (~50 ms
        per 100k objects here, plus a similar slowdown of the application's
        thread after it), so scraping a large heap every second would cost
        ~10% by itself. Between full ones a young-generation collection runs:
        reference counting has already freed all but cyclic garbage, and the
        interpreter's own full collections bound what is left.
        """
        now = time.monotonic()
        with self._lock:
            self._forced += 1
            last = self._full_gc
        if last is not None and now - last[0] < last[1] * _DUTY:
            gc.collect(1)
            return
        gc.collect()
        with self._lock:
            self._full_gc = (now, time.monotonic() - now)

    def _live(self) -> tuple[int, int]:
        """Return (live bytes, live objects): tracemalloc's exact total if kept on, else the census.

        Under tracemalloc every allocation is traced, so the census (which allocates
        per object) costs ~10x more there, while the traced total is exact for free.
        """
        if self._own_tracing and tracemalloc.is_tracing():
            return tracemalloc.get_traced_memory()[0], sys.getallocatedblocks()
        if self._allocator.available:
            return self._allocator.live_bytes(), sys.getallocatedblocks()
        c = self._census_now(fresh=True)
        return c.total_bytes, c.total_objects

    def memstats(self) -> dict[str, int]:
        """Return exact process totals in MemStats names (HeapAlloc = live Python bytes)."""
        live, objects = self._live()
        with self._lock:
            self._total += max(live - self._last_heap, 0)
            self._last_heap = live
            total = self._total
        stats = gc.get_stats()
        rss = process_rss()
        fields = {
            "Alloc": live,
            "TotalAlloc": total,
            "Sys": rss,
            "HeapAlloc": live,
            "HeapSys": rss,
            "HeapInuse": live,
            "HeapObjects": objects,
            "NumGC": sum(s["collections"] for s in stats),
            "NumForcedGC": self._forced,
            "Collected": sum(s["collected"] for s in stats),
            "Uncollectable": sum(s["uncollectable"] for s in stats),
            "AllocatedBlocks": sys.getallocatedblocks(),
            "Threads": threading.active_count(),
        }
        if tracemalloc.is_tracing():
            current, peak = tracemalloc.get_traced_memory()
            fields["TracedAlloc"] = current
            fields["TracedPeak"] = peak
        return fields

    def _sites(self, seconds: float) -> tuple[Site, ...]:
        """Return traced sites: over a window of ``seconds``, or now if tracing is kept on."""
        if seconds > 0:
            started = not tracemalloc.is_tracing()
            if started:
                tracemalloc.start(self.trace_frames)
            try:
                time.sleep(min(seconds, _MAX_SECONDS))
                return traced_sites(self.namer)
            finally:
                if started:
                    tracemalloc.stop()
        return traced_sites(self.namer)

    def _census_profile(self) -> bytes:
        """Return the census as a heap profile, encoded once per census (scrapes reuse it)."""
        c = self._census_now()
        cached = self._census_body
        if cached is not None and cached[0] is c:
            return cached[1]
        sites = (Site((type_frame(kind, self.namer),), n, b) for kind, (n, b) in c.by_type.items())
        body = heap_profile(sites, time_ns=c.taken_ns)
        self._census_body = (c, body)
        return body

    # -- endpoints ---------------------------------------------------------------

    def handle(self, path: str, query_string: str) -> Response:
        """Answer one request (path may carry a mount prefix before ``/debug/``)."""
        cut = path.find("/debug/")
        path = path[cut:] if cut >= 0 else path
        query = _query(query_string)
        try:
            if path in ("/debug/pprof/heap", "/debug/pprof/allocs"):
                return self._heap(query)
            if path == "/debug/pprof/goroutine":
                return self._goroutine(query)
            if path == "/debug/vars":
                return self._vars()
            if path in ("/debug/pprof", "/debug/pprof/"):
                return Response(
                    200, _TEXT, b"leakhunter agent: heap goroutine allocs; /debug/vars\n"
                )
        except Exception as exc:  # an agent must never take its host down
            return Response(500, _TEXT, f"leakhunter agent: {type(exc).__name__}: {exc}\n".encode())
        return Response(404, _TEXT, b"404 page not found\n")

    def _heap(self, query: dict[str, str]) -> Response:
        if _arg(query, "gc") > 0:
            self._collect()
        seconds = _arg(query, "seconds")
        if _arg(query, "debug") > 0:
            sites = self._sites(seconds) if seconds > 0 else ()
            stats = self.memstats()
            return Response(200, _TEXT, heap_text(sites, stats).encode())
        if seconds <= 0 and not (self.trace and tracemalloc.is_tracing()):
            return Response(200, _OCTET, self._census_profile())
        started = time.monotonic_ns()
        sites = self._sites(seconds)
        duration = time.monotonic_ns() - started if seconds > 0 else 0
        return Response(200, _OCTET, heap_profile(sites, duration))

    def _goroutine(self, query: dict[str, str]) -> Response:
        routines = self.tracker.snapshot()
        debug = int(_arg(query, "debug"))
        if debug >= 2:
            return Response(200, _TEXT, goroutine_debug2(routines).encode())
        if debug == 1:
            return Response(200, _TEXT, goroutine_debug1(routines).encode())
        return Response(200, _OCTET, goroutine_profile(routines))

    def _vars(self) -> Response:
        doc: dict[str, object] = {"cmdline": sys.argv}
        if self.memory_limit:
            doc["gomemlimit"] = self.memory_limit
        # named leakhunter.guard buffers and pools; an application that never imported
        # leakhunter.guard has none (and the agent does not import it for nothing)
        registry = sys.modules.get("leakhunter.guard._registry")
        guards = registry.figures() if registry is not None else None
        if guards and (guards["buffers"] or guards["pools"]):
            doc["leakhunter_guards"] = guards
        if self.self_watch is not None:
            doc["leakhunter_self_watch"] = self.self_watch.summary()
        return Response(200, "application/json", json.dumps(doc).encode())
