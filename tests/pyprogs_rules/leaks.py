"""Leak patterns of Python services for the PY-* rules, served by leakhunter.agent.

    PYTHONPATH=tests/pyprogs_rules python -m leaks --pattern NAME [--rate N] [--duration S]

prints ``listening on 127.0.0.1:PORT`` once the agent serves (tracemalloc on, 10
frames, as the Python zoo runs it), drives the pattern's load for ``--duration``
seconds, keeps serving for ``--linger`` seconds more and exits: a forgotten run
ends by itself. Everything is on the loopback interface. Patterns with a network
upstream start it as a child process (``--upstream``) that exits when its stdin
closes, i.e. when this process is gone. ``--workdir`` is where file patterns write.

Each pattern is the shape of real service code (the leaking function is an
application frame); ``PATTERNS`` in tests/rules_pyprogs.py names the rule each
must get.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

import httpx

import leakhunter.agent

Op = Callable[[int], Awaitable[None]]


# --- PY-TASK-NEVER-AWAITED: a fire-and-forget task per request parked on an Event -----------


class ExportService:
    """Report exports: a task per export emails the report once the export is ready."""

    def __init__(self) -> None:
        self.background: set[asyncio.Task[None]] = set()
        self.emailed = 0

    async def email_when_ready(self, report: bytes, ready: asyncio.Event) -> None:
        await ready.wait()  # only the success path sets it
        self.emailed += len(report) > 0

    async def request_export(self, n: int) -> None:
        report = random.randbytes(8192)
        ready = asyncio.Event()
        task = asyncio.create_task(self.email_when_ready(report, ready))
        self.background.add(task)  # kept "so it is not garbage collected"
        task.add_done_callback(self.background.discard)
        if n % 4 == 0:
            ready.set()
        # a failed export returns here: nobody sets `ready`, awaits or cancels the task


# --- PY-TASK-NEVER-AWAITED: ... parked on a future nobody resolves ----------------------------


class WebhookDispatcher:
    """Webhook deliveries: a task per delivery waits for the receiver's acknowledgement."""

    def __init__(self) -> None:
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.background: set[asyncio.Task[None]] = set()
        self.confirmed = 0

    async def confirm_delivery(self, payload: bytes, ack: asyncio.Future[int]) -> None:
        status = await ack  # resolved by on_ack(), which never comes for dropped deliveries
        self.confirmed += status == 200 and len(payload) > 0

    def on_ack(self, delivery_id: int, status: int) -> None:
        ack = self.pending.pop(delivery_id, None)
        if ack is not None and not ack.done():
            ack.set_result(status)

    async def dispatch(self, n: int) -> None:
        payload = random.randbytes(8192)
        ack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[n] = ack
        task = asyncio.create_task(self.confirm_delivery(payload, ack))
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        if n % 4 == 0:
            self.on_ack(n, 200)
        # the receiver dropped the other deliveries: no ack, no timeout, no cancel


# --- near-miss: a retry task per failed job sleeps before retrying (it will wake up) ---------


class RetryScheduler:
    """Failed jobs are retried later by a task that sleeps out the back-off."""

    def __init__(self) -> None:
        self.background: set[asyncio.Task[None]] = set()
        self.retried = 0

    async def retry_later(self, job: bytes, delay: float) -> None:
        await asyncio.sleep(delay)  # long back-off: outlives the recording, but ends
        self.retried += len(job) > 0

    async def submit(self, n: int) -> None:
        job = random.randbytes(8192)
        if n % 4 == 0:
            return  # succeeded first time
        task = asyncio.create_task(self.retry_later(job, 600.0))
        self.background.add(task)
        task.add_done_callback(self.background.discard)


# --- PY-SOCKET-OR-FILE-NOT-CLOSED: a connection per call, kept and never closed --------------


class StockClient:
    """A line-protocol client of the stock service: one TCP connection per reservation."""

    def __init__(self, addr: tuple[str, int]) -> None:
        self.addr = addr
        self.connections: list[tuple[socket.socket, IO[bytes]]] = []

    def reserve(self, sku: int) -> int:
        conn = socket.create_connection(self.addr, timeout=5)
        conn.sendall(f"RESERVE {sku}\n".encode())
        reader = conn.makefile("rb")
        reply = reader.readline()
        self.connections.append((conn, reader))  # "pooled for reuse": never reused nor closed
        return int(reply.split()[-1])


# --- PY-SOCKET-OR-FILE-NOT-CLOSED: a file handle per chunk, kept and never closed ------------


class UploadStore:
    """Chunked uploads appended to a part file; handles kept to be "flushed at the end"."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.handles: list[IO[bytes]] = []

    def append_chunk(self, upload_id: str, chunk: bytes) -> None:
        part = (self.root / f"{upload_id}.part").open("ab")
        part.write(chunk)
        self.handles.append(part)  # flushed and closed by finish(), which never runs


# --- PY-AIOHTTP-SESSION-NOT-CLOSED (httpx): a client per call, never closed ------------------


class PricingClient:
    """Prices from the pricing service: a new httpx.AsyncClient per quote."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.clients: list[httpx.AsyncClient] = []

    async def quote(self, sku: int) -> int:
        # plain http: no TLS context to build (certificate loading would make each
        # call cost ~20 ms of CPU, and a loaded machine would run few of them)
        client = httpx.AsyncClient(base_url=self.base, verify=False)
        self.clients.append(client)  # "closed at shutdown": aclose() is never called
        resp = await client.get("/price", params={"sku": sku})
        return int(resp.json()["price"])


# --- near-miss for PY-UNBOUNDED-CACHE: an audit trail kept in a list, not a cache ------------


class AuditTrail:
    """Every request's audit record appended to an in-memory list shipped "later"."""

    def __init__(self) -> None:
        self.records: list[bytes] = []

    def log_request(self, n: int) -> None:
        record = {"request": n, "user": random.getrandbits(48), "trace": "x" * 3800}
        self.records.append(json.dumps(record).encode())


# --- the upstream (a child process) ----------------------------------------------------------


async def _serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer line requests (``RESERVE n``) and HTTP/1.1 GETs; keep the connection open."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while line := await reader.readline():
            if line.startswith(b"GET "):
                while (await reader.readline()).strip():
                    pass
                body = json.dumps({"price": random.randrange(1, 1000)}).encode()
                head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            else:
                writer.write(b"OK %d\n" % random.randrange(1, 100))
            await writer.drain()
    writer.close()


async def upstream() -> None:
    server = await asyncio.start_server(_serve_client, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"upstream on 127.0.0.1:{port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # parent gone: EOF
    os._exit(0)


def start_upstream() -> tuple[subprocess.Popen[str], tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "leaks", "--upstream"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    host, _, port = proc.stdout.readline().strip().rpartition(" ")[2].rpartition(":")
    return proc, (host, int(port))


# --- patterns ---------------------------------------------------------------------------------


async def _drive(rate: float, duration: float, op: Op) -> None:
    """Call ``op(i)`` about ``rate`` times a second for ``duration`` seconds, paced."""
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < duration:
        await op(i)
        i += 1
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def _setup(name: str, workdir: Path) -> tuple[Op, subprocess.Popen[str] | None]:
    """Return the pattern's operation (and its upstream process, if any).

    Runs before the agent starts tracing, as a service's imports and first calls
    run long before anyone watches it: lazy imports (httpx pulls in httpcore,
    anyio, trio...) are done by then and are not part of the recording.
    """
    if name == "task-event-never-set":
        return ExportService().request_export, None
    if name == "task-future-never-resolved":
        return WebhookDispatcher().dispatch, None
    if name == "task-retry-sleeping":
        return RetryScheduler().submit, None
    if name == "socket-per-call":
        proc, addr = await asyncio.to_thread(start_upstream)
        stock = StockClient(addr)

        async def reserve(n: int) -> None:
            stock.reserve(n)

        return reserve, proc
    if name == "file-per-upload":
        store = UploadStore(workdir)

        async def upload(n: int) -> None:
            store.append_chunk(f"upload-{n}", random.randbytes(2048))

        return upload, None
    if name == "httpx-client-per-call":
        proc, (host, port) = await asyncio.to_thread(start_upstream)
        base = f"http://{host}:{port}"
        async with httpx.AsyncClient(base_url=base) as warm:  # the startup health check
            (await warm.get("/price", params={"sku": 0})).raise_for_status()
        pricing = PricingClient(base)

        async def quote(n: int) -> None:
            await pricing.quote(n)

        return quote, proc
    if name == "audit-list-growth":
        audit = AuditTrail()

        async def log(n: int) -> None:
            audit.log_request(n)

        return log, None
    raise SystemExit(f"unknown pattern {name!r}")


PATTERNS = (
    "task-event-never-set",
    "task-future-never-resolved",
    "task-retry-sleeping",
    "socket-per-call",
    "file-per-upload",
    "httpx-client-per-call",
    "audit-list-growth",
)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m leaks")
    ap.add_argument("--pattern", choices=PATTERNS)
    ap.add_argument("--rate", type=float, default=50.0, help="operations per second")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    ap.add_argument("--linger", type=float, default=60.0, help="seconds served after the load")
    ap.add_argument("--workdir", type=Path, default=None, help="where file patterns write")
    ap.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.upstream:
        asyncio.run(upstream())
        return
    if args.pattern is None:
        ap.error("--pattern is required")

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        with tempfile.TemporaryDirectory(prefix="pyprog-") as tmp:
            op, upstream_proc = await _setup(args.pattern, args.workdir or Path(tmp))
            agent = leakhunter.agent.start("127.0.0.1", 0, trace=True, trace_frames=10)
            print(f"listening on 127.0.0.1:{agent.port}", flush=True)
            work = asyncio.create_task(_drive(args.rate, args.duration, op), name="load")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.duration + args.linger)
            work.cancel()
            agent.stop()
            if upstream_proc is not None:
                upstream_proc.kill()
        sys.stdout.flush()
        os._exit(0)  # leaked tasks, sockets and files are the point: don't wait for them

    asyncio.run(run())


if __name__ == "__main__":
    main()
