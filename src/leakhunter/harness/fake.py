"""A scriptable fake pprof target on 127.0.0.1 for tests that need no Go toolchain.

``FakeServer`` answers canned replies per path (status, body, headers, delay) and
records every request; ``FakeGoTarget`` builds on it to imitate a Go service:
exact MemStats that move as its state changes, goroutine profiles built from
named groups, optional goroutineleak and expvar endpoints, and a ``restart()``
that resets the counters as a real process restart does.
"""

from __future__ import annotations

import gzip
import http.server
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

from leakhunter.model import Function, Line, Location, Sample, ValueType, make_profile

__all__ = ["FakeGoTarget", "FakeServer", "Reply", "Request", "goroutine_profile"]


@dataclass(frozen=True, slots=True)
class Request:
    """A request the fake server received."""

    path: str
    query: str
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Reply:
    """A canned answer; ``delay`` sleeps before the body, ``drip`` between its chunks."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    drip: float = 0.0


Handler = Callable[[Request], Reply]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        req = Request(parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()})
        self.server.owner.requests.append(req)
        route = self.server.owner.routes.get(parts.path)
        reply = route(req) if route else Reply(404, b"404 page not found\n")
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.drip:
                for i in range(0, len(reply.body), 1024):
                    self.wfile.write(reply.body[i : i + 1024])
                    self.wfile.flush()
                    time.sleep(reply.drip)
            else:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (size cap, timeout): expected in tests

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], owner: FakeServer) -> None:
        super().__init__(addr, _Handler)
        self.owner = owner


class FakeServer:
    """An HTTP server on 127.0.0.1 (port 0 unless given) answering ``routes`` by path.

    With ``tls`` (a server-side SSLContext) it speaks HTTPS.
    """

    def __init__(
        self,
        routes: Mapping[str, Handler] | None = None,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.routes: dict[str, Handler] = dict(routes or {})
        self.requests: list[Request] = []
        self._port = port
        self._tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.start()

    @property
    def port(self) -> int:
        """Return the port the server listens (or last listened) on."""
        return self._port

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self._port}"

    def start(self) -> None:
        """(Re)start serving, on the same port after the first start."""
        if self._server is not None:
            return
        self._server = _Server(("127.0.0.1", self._port), self)
        if self._tls is not None:
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; connections to the port are refused until start()."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def hits(self, path: str) -> int:
        """Return how many requests asked for path."""
        return sum(1 for r in self.requests if r.path == path)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def goroutine_profile(groups: Mapping[str, int]) -> bytes:
    """Return a gzipped goroutine?debug=0 protobuf: one stack per group name.

    Each stack is ``runtime.gopark`` under a function named after the group
    (e.g. "main.worker"), so groups stay distinct and stable across calls.
    """
    from leakhunter.formats.pprof import encode

    functions = [Function(1, "runtime.gopark", "runtime.gopark", "runtime/proc.go")]
    locations = [Location(1, lines=(Line(1, 435),))]
    samples = []
    for i, (name, count) in enumerate(sorted(groups.items()), start=2):
        functions.append(Function(i, name, name, "main.go"))
        locations.append(Location(i, lines=(Line(i, 10 * i),)))
        samples.append(Sample((1, i), (count,)))
    profile = make_profile(
        (ValueType("goroutine", "count"),),
        samples,
        functions=tuple(functions),
        locations=tuple(locations),
        period_type=ValueType("goroutine", "count"),
        period=1,
    )
    return encode(profile)


def _debug2(groups: Mapping[str, int]) -> bytes:
    lines: list[str] = []
    gid = 1
    for name, count in sorted(groups.items()):
        for _ in range(count):
            lines += [f"goroutine {gid} [chan receive]:", f"{name}()", "\tmain.go:10 +0x1d", ""]
            gid += 1
    return "\n".join(lines).encode()


@dataclass(slots=True)
class _GoState:
    heap_alloc: int = 1 << 20
    total_alloc: int = 1 << 20
    num_gc: int = 0
    num_forced_gc: int = 0
    groups: dict[str, int] = field(default_factory=lambda: {"main.main": 1})


class FakeGoTarget(FakeServer):
    """A fake Go service: change ``heap_alloc``/``groups`` between snapshots to script it.

    Every ``heap?gc=1`` counts a forced GC, as the real runtime does; ``restart()``
    drops the counters back to a fresh process's values.
    """

    def __init__(
        self,
        *,
        leak_endpoint: bool = True,
        gomemlimit: int | None = None,
        heap_body: bytes = b"heap-profile",
        port: int = 0,
    ) -> None:
        self.state = _GoState()
        self.gomemlimit = gomemlimit
        self.heap_body = heap_body
        routes: dict[str, Handler] = {
            "/debug/pprof/heap": self._heap,
            "/debug/pprof/goroutine": self._goroutine,
            "/debug/pprof/allocs": lambda r: Reply(body=gzip.compress(b"allocs")),
            "/debug/vars": self._vars,
        }
        if leak_endpoint:
            routes["/debug/pprof/goroutineleak"] = lambda r: Reply(body=goroutine_profile({}))
        super().__init__(routes, port=port)

    def grow(
        self, heap: int = 0, allocated: int = 0, groups: Mapping[str, int] | None = None
    ) -> None:
        """Grow the live heap by ``heap`` bytes and goroutine groups (name -> count) by counts."""
        st = self.state
        st.heap_alloc += heap
        st.total_alloc += max(heap, 0) + allocated
        for name, n in (groups or {}).items():
            st.groups[name] = st.groups.get(name, 0) + n

    def restart(self) -> None:
        """Reset counters as a new process would (the port keeps serving)."""
        self.state = _GoState()

    def _heap(self, req: Request) -> Reply:
        st = self.state
        if "gc=1" in req.query:
            st.num_gc += 1
            st.num_forced_gc += 1
        if "debug=1" not in req.query:
            return Reply(body=gzip.compress(self.heap_body))
        text = (
            "heap profile: 1: 1 [1: 1] @ heap/1048576\n\n# runtime.MemStats\n"
            f"# Alloc = {st.heap_alloc}\n# TotalAlloc = {st.total_alloc}\n"
            f"# Sys = {st.heap_alloc * 2 + (8 << 20)}\n# Mallocs = {st.total_alloc // 64}\n"
            f"# Frees = {(st.total_alloc - st.heap_alloc) // 64}\n"
            f"# HeapAlloc = {st.heap_alloc}\n# HeapInuse = {st.heap_alloc + 8192}\n"
            f"# HeapObjects = {st.heap_alloc // 64}\n# Stack = 65536 / 65536\n"
            f"# NumGC = {st.num_gc}\n# NumForcedGC = {st.num_forced_gc}\n"
            "# GCCPUFraction = 0.001\n# DebugGC = false\n"
        )
        return Reply(body=text.encode())

    def _goroutine(self, req: Request) -> Reply:
        if "debug=2" in req.query:
            return Reply(body=_debug2(self.state.groups))
        return Reply(body=goroutine_profile(self.state.groups))

    def _vars(self, req: Request) -> Reply:
        limit = self.gomemlimit if self.gomemlimit is not None else (1 << 63) - 1
        return Reply(body=f'{{"cmdline": ["fake"], "gomemlimit": {limit}}}'.encode())
