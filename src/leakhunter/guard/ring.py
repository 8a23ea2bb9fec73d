"""A bounded ring buffer with an explicit back-pressure policy, for threads and asyncio alike.

One class serves both sides, because the buffer that needs a bound usually
sits between them: request handlers on an event loop hand messages to a
writer thread (a blocking client, a thread pool), or threads hand work to a
loop. ``put``/``get`` block the calling thread; ``aput``/``aget`` wait as
coroutines; ``put_nowait``/``get_nowait``/``drain`` never wait. Two classes
would need a bridge between them and would count drops in two places.

State is a ``deque`` under one ``threading.Lock``, held only for a few
operations (never across a wait): uncontended it costs less than one
Python-level call of ``queue.Queue``. The fast paths (room to put, an item to
get) are written out in each method: a helper call costs as much as the rest
of a put. Waiters and the waits themselves are ``_waiting.BufferCore``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from threading import get_ident
from typing import TypeVar

from leakhunter.guard._registry import register
from leakhunter.guard._waiting import UNSET, BufferCore, discard_waiter
from leakhunter.guard.policy import BufferStats, Empty, Full, Policy

__all__ = ["RingBuffer"]

T = TypeVar("T")


class RingBuffer(BufferCore[T]):
    """A bounded FIFO buffer of at most ``capacity`` items with a back-pressure policy.

    Args:
        capacity: most items held at once (> 0).
        policy: ``Block`` (wait for room), ``DropOldest`` (evict the oldest) or
            ``FailFast`` (raise ``Full`` at once).
        timeout: default wait of a blocking ``put``/``get`` in seconds (None: forever).
        name: names the buffer in metrics and ``/debug/vars`` (unnamed ones are not listed).
        on_drop: called with each item DropOldest evicts (e.g. to return a pooled
            buffer), outside the buffer's lock.

    ``put``/``get`` must not be called from a coroutine when they might wait: use
    ``aput``/``aget`` there (waiting in the loop's thread would stall the loop).
    """

    def __init__(
        self,
        capacity: int,
        policy: Policy = Policy.BLOCK,
        *,
        timeout: float | None = None,
        name: str = "",
        on_drop: Callable[[T], None] | None = None,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        super().__init__(capacity, timeout)
        self.policy = Policy(policy)
        self.name = name
        self.on_drop = on_drop
        if name:
            register(self)

    # -- figures -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    @property
    def level(self) -> float:
        """Return the fill ratio (0 empty, 1 full)."""
        return len(self._items) / self.capacity

    def stats(self) -> BufferStats:
        """Return the buffer's figures now (consistent with each other)."""
        with self._lock:
            return BufferStats(
                self.name,
                self.policy.value,
                self.capacity,
                len(self._items),
                self._gets + len(self._items) + self._dropped,
                self._gets,
                self._dropped,
                self._rejected,
                self._full,
                self._high,
            )

    # -- put -------------------------------------------------------------------
    # The fast paths (room to put, an item to get) are written out in each method:
    # a helper call costs as much as the rest of a put. The lock is taken with
    # acquire()/try/finally rather than ``with``: half the cost, same safety.

    def _overflow(self, item: T) -> tuple[T, ...]:
        """Apply the policy to a put that found the buffer full; return what it evicted.

        The caller holds the lock. Block and FailFast refuse (``Full``); Block's
        waiting is the caller's business.
        """
        self._full += 1
        if self.policy is not Policy.DROP_OLDEST:
            self._rejected += 1
            raise Full
        evicted = self._items.popleft()
        self._items.append(item)  # full before, full after: no getter is waiting
        self._dropped += 1
        return (evicted,)

    def _dropped_out(self, evicted: tuple[T, ...]) -> None:
        if evicted and self.on_drop is not None:
            self.on_drop(evicted[0])

    def put_nowait(self, item: T) -> None:
        """Add ``item`` without waiting; ``Full`` when full under Block or FailFast."""
        lock = self._lock
        lock.acquire()
        try:
            items = self._items
            n = len(items)
            if n < self.capacity:
                items.append(item)
                if n >= self._high:
                    self._high = n + 1
                getters = self._getters
                if getters:
                    waiter = getters[0]
                    # a coroutine of this thread's loop (a request handler feeding a
                    # writer task): resolved here, the rest by _wake_one
                    if type(waiter) is tuple and waiter[1] == get_ident():
                        getters.popleft()
                        if not waiter[0].done():
                            waiter[0].set_result(None)
                            return
                    self._wake_one(getters)
                return
            self._full += 1
            if self.policy is not Policy.DROP_OLDEST:
                self._rejected += 1
                raise Full
            evicted = items.popleft()  # full before, full after: no getter is waiting
            items.append(item)
            self._dropped += 1
        finally:
            lock.release()
        if self.on_drop is not None:
            self.on_drop(evicted)

    def put(self, item: T, timeout: float | None = UNSET) -> None:
        """Add ``item``; under Block wait for room up to ``timeout`` s (then ``Full``)."""
        lock = self._lock
        lock.acquire()
        try:
            items = self._items
            n = len(items)
            if n < self.capacity:
                items.append(item)
                if n >= self._high:
                    self._high = n + 1
                if self._getters:
                    self._wake_one(self._getters)
                return
            self._full += 1
            policy = self.policy
            if policy is not Policy.DROP_OLDEST:
                if policy is Policy.FAIL_FAST:
                    self._rejected += 1
                    raise Full
            else:
                evicted = items.popleft()  # full before, full after: no getter is waiting
                items.append(item)
                self._dropped += 1
        finally:
            lock.release()
        if policy is Policy.BLOCK:
            self._put_blocking(item, self.timeout if timeout == UNSET else timeout)
        elif self.on_drop is not None:
            self.on_drop(evicted)

    async def aput(self, item: T) -> None:
        """Add ``item`` from a coroutine; under Block wait for room (``timeout`` s, then Full).

        DropOldest and FailFast never wait: ``put_nowait`` does the same without
        making a coroutine.
        """
        lock = self._lock
        lock.acquire()
        try:
            items = self._items
            n = len(items)
            if n < self.capacity:
                items.append(item)
                if n >= self._high:
                    self._high = n + 1
                if self._getters:
                    self._wake_one(self._getters)
                return
            if self.policy is Policy.BLOCK:
                self._full += 1
                waiter = self._park(self._putters)
                evicted: tuple[T, ...] = ()
            else:
                waiter = None
                evicted = self._overflow(item)
        finally:
            lock.release()
        if waiter is None:
            self._dropped_out(evicted)
        else:
            await self._await_room(item, waiter)

    # -- get -------------------------------------------------------------------

    def get_nowait(self) -> T:
        """Remove and return the oldest item; ``Empty`` when there is none."""
        lock = self._lock
        lock.acquire()
        try:
            items = self._items
            if items:
                item = items.popleft()
                self._gets += 1
                if self._putters:
                    self._wake_one(self._putters)
                return item
        finally:
            lock.release()
        raise Empty

    def drain(self, max_items: int | None = None) -> list[T]:
        """Remove and return up to ``max_items`` items (all of them by default), oldest first."""
        with self._lock:
            return self._take_many(max_items)

    def get_many(self, max_items: int | None = None, timeout: float | None = UNSET) -> list[T]:
        """Wait up to ``timeout`` s for an item (then Empty); return up to ``max_items`` of them.

        A batching writer's loop: everything that piled up while it wrote the last batch.
        """
        first = self.get(timeout)
        return [first, *self.drain(None if max_items is None else max_items - 1)]

    async def aget_many(self, max_items: int | None = None) -> list[T]:
        """Wait for an item from a coroutine; return up to ``max_items`` of them, oldest first."""
        lock = self._lock
        while True:
            lock.acquire()
            try:
                items = self._items
                if items:
                    if max_items is not None or self._putters:
                        return self._take_many(max_items)
                    out = list(items)  # the usual case, written out
                    items.clear()
                    self._gets += len(out)
                    return out
                thread, loop = get_ident(), self._loop  # _future(), written out
                if loop is None or getattr(loop, "_thread_id", None) != thread:
                    loop = self._loop = asyncio.get_running_loop()
                waiter = (loop.create_future(), thread)
                self._getters.append(waiter)
            finally:
                lock.release()
            try:
                await waiter[0]
            except BaseException:  # cancelled: pass a wake-up meant for it on
                with self._lock:
                    if not discard_waiter(self._getters, waiter):
                        self._rewake_getter_locked()
                raise

    def get(self, timeout: float | None = UNSET) -> T:
        """Remove and return the oldest item, waiting up to ``timeout`` s for one (then Empty)."""
        lock = self._lock
        lock.acquire()
        try:
            items = self._items
            if items:
                item = items.popleft()
                self._gets += 1
                if self._putters:
                    self._wake_one(self._putters)
                return item
        finally:
            lock.release()
        return self._get_blocking(self.timeout if timeout == UNSET else timeout)

    async def aget(self) -> T:
        """Remove and return the oldest item from a coroutine, waiting for one."""
        lock = self._lock
        while True:
            lock.acquire()
            try:
                items = self._items
                if items:
                    item = items.popleft()
                    self._gets += 1
                    if self._putters:
                        self._wake_one(self._putters)
                    return item
                # parked (written out: a call costs as much as the rest)
                waiter = self._future()
                self._getters.append(waiter)
            finally:
                lock.release()
            try:
                await waiter[0]
            except BaseException:  # cancelled: pass a wake-up meant for it on
                with self._lock:
                    if not discard_waiter(self._getters, waiter):
                        self._rewake_getter_locked()
                raise

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return (
            f"<RingBuffer{label} {len(self._items)}/{self.capacity} {self.policy.value}"
            f" dropped={self._dropped} rejected={self._rejected}>"
        )
