"""Optional export of the profiles serve collects to Grafana Pyroscope (push API).

For teams that keep their profiles in Pyroscope: after each scrape, the heap
and goroutine profiles just fetched (the bytes as the target served them) are
handed to :class:`PyroscopeExporter`, which pushes them from its own thread in
batches (the request format: :mod:`leakhunter.serve.pyroscope_wire`).

Scraping never waits for Pyroscope: :meth:`PyroscopeExporter.offer` only
appends to a queue bounded in profiles and in bytes, and when it is full the
new profiles are dropped and counted (``leakhunter_serve_export_dropped_total``).
A failed push (connection error, timeout, 429, 5xx) is retried with
exponential backoff (``Retry-After`` honoured up to the cap); other answers
(400, 401, 403, 413...) are not retried: the request will not get better.
Problems are printed as one line naming Pyroscope's host only (never the
password, the tenant or the URL's credentials), once per kind of problem and
at most once a minute while it lasts, and a line says when pushes work again.

Tested against the documented request format only (a local receiver decodes
each request with the protobuf library): no Pyroscope server runs where this
was built.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from leakhunter import __version__
from leakhunter.serve.pyroscope_wire import PUSH_PATH, Series, encode_push, make_series

__all__ = ["ExportCounts", "PyroscopeExporter", "PyroscopeOptions"]


@dataclass(frozen=True)
class PyroscopeOptions:
    """Where and how to push: the URL, credentials, tenant, queue bounds and retries.

    ``url`` is Pyroscope's base URL (``http://pyroscope:4040``; the push path
    is appended). ``basic_auth`` is (user, password); ``tenant`` goes in
    ``X-Scope-OrgID``. None of the three is ever shown (``repr`` included).
    """

    url: str = field(repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    tenant: str | None = field(default=None, repr=False)
    max_queued: int = 2048  # profiles waiting
    max_queued_bytes: int = 64 << 20
    batch: int = 64  # profiles per request at most
    batch_bytes: int = 8 << 20
    retries: int = 4
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_backoff: float = 30.0
    timeout: float = 15.0
    quiet_seconds: float = 60.0  # the same problem is printed at most this often

    @property
    def host(self) -> str:
        """Return Pyroscope's host:port, the only part of its URL ever shown."""
        return urlsplit(self.url).netloc.rpartition("@")[2] or "pyroscope"


@dataclass(frozen=True, slots=True)
class ExportCounts:
    """Profiles pushed, given up on, dropped with the queue full, and waiting now."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    queued: int = 0


class PyroscopeExporter:
    """Pushes profiles to Pyroscope from one background thread; ``offer`` never blocks."""

    def __init__(
        self,
        options: PyroscopeOptions,
        say: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.say = say
        self.clock = clock
        self._queue: deque[Series] = deque()
        self._bytes = 0
        self._sent = self._failed = self._dropped = 0
        self._cond = threading.Condition()
        self._closing = False
        self._stop = threading.Event()
        self._problem = ""  # the problem printed last ("" while pushes work)
        self._said_at = -1e18
        headers = {
            "Content-Type": "application/proto",
            "Connect-Protocol-Version": "1",
            "User-Agent": f"leakhunter/{__version__}",
        }
        if options.tenant:
            headers["X-Scope-OrgID"] = options.tenant
        auth = httpx.BasicAuth(*options.basic_auth) if options.basic_auth else None
        self._endpoint = options.url.rstrip("/") + PUSH_PATH
        self._client = httpx.Client(
            timeout=options.timeout, follow_redirects=False, headers=headers, auth=auth
        )
        self._thread = threading.Thread(target=self._run, name="leakhunter-pyroscope", daemon=True)
        self._thread.start()

    # -- the scrapers' side ----------------------------------------------------
    def offer(self, url: str, labels: Mapping[str, str], blobs: Mapping[str, bytes]) -> None:
        """Queue a snapshot's heap and goroutine profiles (dropped, counted, when full)."""
        series = make_series(url, labels, blobs)
        o = self.options
        with self._cond:
            for s in series:
                if self._closing or (
                    len(self._queue) >= o.max_queued or self._bytes + s.size > o.max_queued_bytes
                ):
                    self._dropped += 1
                    continue
                self._queue.append(s)
                self._bytes += s.size
            self._cond.notify()

    def counts(self) -> ExportCounts:
        """Return the counters (for /metrics)."""
        with self._cond:
            return ExportCounts(self._sent, self._failed, self._dropped, len(self._queue))

    # -- the pushing thread -------------------------------------------------------
    def _take(self) -> list[Series] | None:
        """Wait for profiles; return the next batch (None: closed and nothing left)."""
        o = self.options
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            if self._stop.is_set():
                return None
            batch: list[Series] = []
            size = 0
            while self._queue and len(batch) < o.batch:
                s = self._queue[0]
                if batch and size + s.size > o.batch_bytes:
                    break
                batch.append(self._queue.popleft())
                size += s.size
                self._bytes -= s.size
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                ok = self._push(encode_push(batch))
            except Exception as exc:  # a bug here must not end exports or print a traceback
                self._tell(f"{type(exc).__name__}: {exc}")
                ok = False
            with self._cond:
                if ok:
                    self._sent += len(batch)
                else:
                    self._failed += len(batch)

    def _push(self, body: bytes) -> bool:
        """POST one request, retrying what may succeed later; return True once accepted."""
        o = self.options
        problem = ""
        for attempt in range(o.retries + 1):
            wait = min(o.max_backoff, o.backoff * 2**attempt)
            try:
                r = self._client.post(self._endpoint, content=body)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__} (is Pyroscope reachable?)"
            else:
                if r.status_code < 300:
                    self._recovered()
                    return True
                problem = _describe(r)
                if r.status_code < 500 and r.status_code != 429:
                    self._tell(problem)
                    return False  # the request itself is refused: retrying will not help
                wait = min(o.max_backoff, max(wait, _retry_after(r)))
            if attempt == o.retries or self._stop.wait(wait):
                break
        self._tell(problem)
        return False

    def _tell(self, problem: str) -> None:
        now = self.clock()
        if problem == self._problem and now - self._said_at < self.options.quiet_seconds:
            return
        self._problem, self._said_at = problem, now
        with self._cond:
            lost = self._failed + self._dropped
        self.say(
            f"leakhunter serve: pushing profiles to Pyroscope at {self.options.host} failed: "
            f"{problem}; {lost} profile(s) not delivered so far (scraping goes on)"
        )

    def _recovered(self) -> None:
        if self._problem:
            self._problem = ""
            host = self.options.host
            self.say(f"leakhunter serve: pushing profiles to Pyroscope at {host} works again")

    def close(self, timeout: float = 10.0) -> None:
        """Push what is queued (within timeout), then stop; what is left counts as dropped."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self._stop.set()  # cut a backoff short; what is still queued is not pushed
        with self._cond:
            self._cond.notify_all()
        self._thread.join(max(1.0, self.options.timeout))
        with self._cond:
            self._dropped += len(self._queue)
            self._queue.clear()
            self._bytes = 0
        self._client.close()


def _describe(r: httpx.Response) -> str:
    """Return "HTTP 400 invalid_argument: message" from a Connect error answer (one line)."""
    text = f"HTTP {r.status_code}"
    if r.status_code in (401, 403):
        text += " (check --pyroscope-basic-auth and --pyroscope-tenant)"
    try:
        doc = json.loads(r.content[:4096])
    except ValueError:
        return text
    if isinstance(doc, dict) and doc.get("code"):
        message = " ".join(str(doc.get("message", "")).split())[:200]
        text += f" {doc['code']}" + (f": {message}" if message else "")
    return text


def _retry_after(r: httpx.Response) -> float:
    """Return the seconds a 429/503 asks to wait (0 when it says nothing usable)."""
    try:
        return max(0.0, float(r.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0
