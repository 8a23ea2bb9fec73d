"""The serve process: discovery, scheduler, retention and the HTTP app, wired and stopped.

The HTTP side runs in uvicorn on the main thread (it owns SIGINT/SIGTERM and
shuts down gracefully); scraping, discovery and retention run on daemon
threads that end when ``stop`` is set. On the way out every target's
analyser is saved, so the next start resumes where this one ended. The data
directory is locked (``flock``): two serves writing one database would
corrupt each other's segments.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import uvicorn

from leakhunter.errors import LeakhunterError, UsageError
from leakhunter.serve.api import ApiOptions, make_app
from leakhunter.serve.discovery import Discovery
from leakhunter.serve.notify import Notifier
from leakhunter.serve.options import ServeOptions
from leakhunter.serve.pyroscope import PyroscopeExporter
from leakhunter.serve.retention import enforce
from leakhunter.serve.scheduler import Scheduler, in_shard
from leakhunter.serve.store import Store, StoreError
from leakhunter.serve.targets import TargetSpec
from leakhunter.serve.worker import Event

__all__ = ["Listen", "ServeError", "run_serve"]


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ServeError(LeakhunterError):
    """serve cannot start (port taken, data directory locked...): one line, exit 2."""

    exit_code = 2


@dataclass(frozen=True)
class Listen:
    """Where serve answers HTTP."""

    host: str = "127.0.0.1"
    port: int = 9480

    @staticmethod
    def parse(text: str) -> Listen:
        """Parse "HOST:PORT", ":PORT" or "[v6]:PORT"."""
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise UsageError(f"--listen wants HOST:PORT, not {text!r}")
        return Listen(host.strip("[]") or "127.0.0.1", int(port))

    @property
    def loopback(self) -> bool:
        """Return True when only this machine can connect."""
        return self.host in ("127.0.0.1", "::1", "localhost") or self.host.startswith("127.")


def _lock(data: Path) -> IO[str]:
    data.mkdir(parents=True, exist_ok=True)
    handle = (data / "serve.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ServeError(f"{data}: another leakhunter serve is using this data directory") from None
    return handle


def _bind(listen: Listen) -> socket.socket:
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"cannot listen on {listen.host}:{listen.port}: {exc.strerror or exc}"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Fleet:
    """Polls the discoveries and hands the scheduler the union of their targets."""

    def __init__(
        self,
        discoveries: Sequence[Discovery],
        scheduler: Scheduler,
        shard: tuple[int, int] | None,
        say: Callable[[str], None],
    ) -> None:
        self.discoveries = discoveries
        self.scheduler = scheduler
        self.shard = shard
        self.say = say
        self.lists: dict[str, list[TargetSpec]] = {}
        self.next_poll = {d.name: 0.0 for d in discoveries}

    def poll(self, first: bool = False) -> None:
        changed = False
        now = time.monotonic()
        for d in self.discoveries:
            if not first and now < self.next_poll[d.name]:
                continue
            self.next_poll[d.name] = now + d.interval
            try:
                got = d.poll()
            except LeakhunterError as exc:
                if first:
                    raise
                self.say(f"leakhunter serve: {d.name}: {exc} (keeping the last good targets)")
                continue
            if got is not None:
                self.lists[d.name] = got
                changed = True
                for w in d.warnings:
                    self.say(f"leakhunter serve: {d.name}: {w}")
        if changed or first:
            specs = [s for lst in self.lists.values() for s in lst if in_shard(s, self.shard)]
            self.scheduler.set_targets(specs)

    def loop(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            try:
                self.poll()
            except Exception as exc:  # discovery must never take the fleet down
                self.say(f"leakhunter serve: discovery failed: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _graceful() -> Iterator[None]:
    """Make SIGINT/SIGTERM end uvicorn and then return here, so every state gets saved.

    uvicorn handles both signals while it runs and, once shut down, raises them
    again for the handler that was there before; with the default ones the
    process would die before the targets' states were saved. Ours ignore that
    second delivery. (Only the main thread may set handlers: tests that run
    serve in a thread stop it through uvicorn instead.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda s, f: None) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _retention_loop(store: Store, options: ServeOptions, stop: threading.Event) -> None:
    while not stop.wait(options.housekeeping_every):
        try:
            enforce(store, options, time.time())
        except (OSError, StoreError) as exc:
            print(f"leakhunter serve: retention: {exc}", file=sys.stderr)


def run_serve(
    options: ServeOptions,
    discoveries: Sequence[Discovery],
    listen: Listen,
    api: ApiOptions,
    *,
    shard: tuple[int, int] | None = None,
    say: Callable[[str], None] = print,
    ready: Callable[[Listen], None] | None = None,
    notify: Callable[[Callable[[str], None]], Notifier] | None = None,
    export: Callable[[Callable[[str], None]], PyroscopeExporter] | None = None,
) -> int:
    """Run serve until SIGINT/SIGTERM; return 0 (errors at start raise ServeError)."""
    lock = _lock(options.data)
    stop = threading.Event()
    store = Store(options.data / "serve.db")
    notifier = notify(say) if notify is not None else None
    exporter = export(say) if export is not None else None

    def on_event(e: Event) -> None:
        say(e.line())
        if notifier is not None:
            notifier.notify(e)

    scheduler = Scheduler(
        store, options, stop, on_event=on_event, export=exporter.offer if exporter else None
    )
    if notifier is not None:
        notifier.labels = lambda tid: (
            dict(w.spec.labels) if (w := scheduler.worker(tid)) is not None else {}
        )
    try:
        sock = _bind(listen)
        bound = Listen(listen.host, sock.getsockname()[1])
        fleet = _Fleet(discoveries, scheduler, shard, say)
        fleet.poll(first=True)
        scheduler.start()
        threads = [
            threading.Thread(target=fleet.loop, args=(stop,), name="leakhunter-discovery"),
            threading.Thread(
                target=_retention_loop, args=(store, options, stop), name="leakhunter-retention"
            ),
        ]
        for t in threads:
            t.daemon = True
            t.start()
        app = make_app(
            scheduler,
            store,
            options.top_findings,
            api,
            exports=exporter.counts if exporter is not None else None,
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        n = len(scheduler.statuses())
        say(
            f"leakhunter serve: watching {n} target(s); http://{bound.host}:{bound.port}/ "
            f"(metrics at /metrics, data in {options.data})"
        )
        if ready is not None:
            ready(bound)
        with _graceful():
            server.run(sockets=[sock])
    finally:
        stop.set()
        scheduler.close()
        if notifier is not None:
            notifier.close()
        if exporter is not None:
            exporter.close()
        store.close()
        lock.close()
    say("leakhunter serve: stopped; every target's state is saved")
    return 0
