"""Scrape every target on its own interval, spread out, with a bounded pool of threads.

Each target is due every ``interval`` seconds from a phase derived from its
id, so 1,000 targets at 60 s spread over the minute instead of firing
together, and a few percent of random jitter per cycle keeps them from
drifting into step. ``workers`` threads take whichever target is due next: a
slow or dead target holds one thread for at most its fetch deadline and never
delays the others. A target that falls behind skips the slots it missed
rather than bunching its scrapes.

Targets change while serve runs (a file_sd reload, a pod rescheduled):
:meth:`Scheduler.set_targets` adds, updates and removes workers; a target whose
id is unchanged keeps its state (labels are updated in place; new fetch
options reopen its worker, which restores the saved state).
"""

from __future__ import annotations

import hashlib
import heapq
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from leakhunter.serve.options import ServeOptions
from leakhunter.serve.store import Store
from leakhunter.serve.targets import TargetSpec
from leakhunter.serve.worker import Event, ProfileSink, TargetStatus, TargetWorker

__all__ = ["Scheduler", "in_shard", "shard_of"]

#: random spread of each cycle, relative to the interval
_JITTER = 0.05


def in_shard(spec: TargetSpec, shard: tuple[int, int] | None) -> bool:
    """Return True when the target belongs to shard i of N (1-based; None: every target).

    Rendezvous hashing: each target goes to the shard whose hash of (shard, target)
    is highest. Shards agree without talking, and when N changes only the targets
    of the shards that come or go move: scaling a StatefulSet from 3 to 2 removes
    shard 3 and moves its third, where a hash modulo N would move two thirds (each
    moved target starts fresh on its new shard).
    """
    if shard is None:
        return True
    i, n = shard
    return shard_of(spec.id, n) == i


def shard_of(tid: str, n: int) -> int:
    """Return the shard (1..n) that owns target id ``tid``."""
    key = tid.encode()
    return max(
        range(1, n + 1),
        key=lambda j: hashlib.blake2b(key, digest_size=8, salt=j.to_bytes(8, "big")).digest(),
    )


def _phase(tid: str) -> float:
    """Return a stable fraction in [0, 1) for a target id (its place in the interval)."""
    return int(hashlib.sha256(tid.encode()).hexdigest()[:8], 16) / 2**32


class Scheduler:
    """Runs every target's scrapes on ``options.workers`` threads until closed."""

    def __init__(
        self,
        store: Store,
        options: ServeOptions,
        stop: threading.Event,
        on_event: Callable[[Event], None] = lambda e: None,
        clock: Callable[[], float] = time.time,
        export: ProfileSink | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self.stop = stop
        self.on_event = on_event
        self.clock = clock
        self.export = export  # each scrape's profiles go there too (Pyroscope)
        self.workers: dict[str, TargetWorker] = {}
        self._due: list[tuple[float, int, str]] = []  # (due time, tiebreak, target id)
        self._count = 0
        self._busy: set[str] = set()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self.loaded = threading.Event()  # set once the first target list is in
        #: how late the latest scrapes started after they were due (seconds)
        self.lags: deque[float] = deque(maxlen=4096)

    # -- targets -------------------------------------------------------------
    def set_targets(self, specs: Iterable[TargetSpec]) -> None:
        """Make the running set of targets this one (first listed wins on a duplicate id)."""
        wanted: dict[str, TargetSpec] = {}
        for spec in specs:
            wanted.setdefault(spec.id, spec)
        for tid, spec in wanted.items():
            self.store.upsert_target(tid, spec.url, spec.labels, spec.source)
        with self._cond:
            current = dict(self.workers)
        for tid in current.keys() - wanted.keys():
            self._remove(tid)
        for tid, spec in wanted.items():
            old = current.get(tid)
            if old is not None and old.spec == spec:
                continue
            if old is not None and (old.spec.fetch, old.spec.interval) == (
                spec.fetch,
                spec.interval,
            ):
                old.relabel(spec)
                continue
            if old is not None:
                self._remove(tid)
            self._add(spec)
        self.store.deactivate_missing(set(wanted))
        self.loaded.set()

    def _add(self, spec: TargetSpec) -> None:
        worker = TargetWorker(
            spec, self.store, self.options, self.stop, self.on_event, export=self.export
        )
        now = self.clock()
        due = now + _phase(spec.id) * worker.interval
        last = worker.status.last_scrape
        if last is not None and now - last > worker.interval:
            due = now + _phase(spec.id) * min(worker.interval, 5.0)  # overdue: soon, spread
        with self._cond:
            self.workers[spec.id] = worker
            self._push(due, spec.id)
            self._cond.notify()

    def _remove(self, tid: str) -> None:
        with self._cond:
            worker = self.workers.pop(tid, None)
            while tid in self._busy:  # let a scrape in flight finish before closing
                self._cond.wait(0.5)
        if worker is not None:
            worker.close()

    def _push(self, due: float, tid: str) -> None:
        self._count += 1
        heapq.heappush(self._due, (due, self._count, tid))

    # -- the pool --------------------------------------------------------------
    def start(self) -> None:
        """Start the scraping threads."""
        for i in range(max(1, self.options.workers)):
            t = threading.Thread(target=self._loop, name=f"leakhunter-scrape-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def _next(self) -> TargetWorker | None:
        with self._cond:
            while not self.stop.is_set():
                if self._due:
                    due, _, tid = self._due[0]
                    worker = self.workers.get(tid)
                    if worker is None:  # removed since it was queued
                        heapq.heappop(self._due)
                        continue
                    wait = due - self.clock()
                    if wait <= 0:
                        heapq.heappop(self._due)
                        self._busy.add(tid)
                        self.lags.append(-wait)
                        return worker
                    self._cond.wait(min(wait, 1.0))
                else:
                    self._cond.wait(1.0)
        return None

    def _loop(self) -> None:
        while True:
            worker = self._next()
            if worker is None:
                return
            try:
                worker.scrape()
            except Exception as exc:  # a bug in one target's scrape must not stop the fleet
                print(
                    f"leakhunter serve: scrape of {worker.status.url} failed: "
                    f"{type(exc).__name__}: {exc}",
                    file=sys.stderr,
                )
            with self._cond:
                self._busy.discard(worker.spec.id)
                if self.workers.get(worker.spec.id) is worker:
                    self._push(self._after(worker), worker.spec.id)
                self._cond.notify_all()

    def _after(self, worker: TargetWorker) -> float:
        """Return the next due time: one interval on, skipping slots already missed."""
        interval = worker.interval
        now = self.clock()
        start = worker.status.last_scrape or now
        due = start + interval * (1 + random.uniform(-_JITTER, _JITTER))
        while due <= now:
            due += interval
        return due

    def lag_quantiles(self) -> dict[float, float]:
        """Return the median and p99 of how late recent scrapes started (empty: none yet)."""
        with self._cond:
            lags = sorted(self.lags)
        if not lags:
            return {}
        return {q: lags[min(len(lags) - 1, int(q * len(lags)))] for q in (0.5, 0.99)}

    # -- views -------------------------------------------------------------------
    def statuses(self) -> list[TargetStatus]:
        """Return every target's latest status, by id."""
        with self._cond:
            workers = list(self.workers.values())
        return sorted((w.public for w in workers), key=lambda s: s.id)

    def worker(self, tid: str) -> TargetWorker | None:
        """Return a target's worker (None when unknown)."""
        with self._cond:
            return self.workers.get(tid)

    def close(self) -> None:
        """Stop scraping, wait for the threads, save every target's state."""
        self.stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=self.options.timeout * 2 + 5)
        with self._cond:
            workers = list(self.workers.values())
        for w in workers:
            w.close()
