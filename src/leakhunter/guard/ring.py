"""A bounded ring buffer with an explicit back-pressure policy, for threads and asyncio alike.

One class serves both sides, because the buffer that needs a bound usually
sits between them: request handlers on an event loop hand messages to a
writer thread (a blocking client, a thread pool), or threads hand work to a
loop. ``put``/``get`` block the calling thread; ``aput``/``aget`` wait as
coroutines; ``put_nowait``/``get_nowait``/``drain`` never wait. Two classes
would need a bridge between them and would count drops in two places.

State is a ``deque`` under one ``threading.Lock``, held only for a few
operations (never across a wait): uncontended it costs ~50 ns, less than one
Python-level call of ``queue.Queue``. Waiters of either kind queue up in FIFO
order and are woken one at a time; an asyncio waiter is woken on its own loop
(``call_soon_threadsafe`` from another thread). A waiter that is woken and
then cancelled, or whose timeout ends at the same moment, passes the wake-up
on, so no item or free slot is ever left with someone waiting for it.
"""

from __future__ import annotations

import asyncio
import enum
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from leakhunter.guard._registry import register

__all__ = [
    "Block",
    "BufferStats",
    "DropOldest",
    "Empty",
    "FailFast",
    "Full",
    "Policy",
    "RingBuffer",
]

T = TypeVar("T")


class Policy(enum.Enum):
    """What ``put`` does when the buffer is full."""

    BLOCK = "block"  # wait for room (up to a timeout), then raise Full
    DROP_OLDEST = "drop-oldest"  # evict the oldest item, count it as dropped
    FAIL_FAST = "fail-fast"  # refuse the new item at once: raise Full, count it as rejected


Block = Policy.BLOCK
DropOldest = Policy.DROP_OLDEST
FailFast = Policy.FAIL_FAST


class Full(queue.Full):
    """The buffer refused an item (FailFast, or Block past its timeout)."""


class Empty(queue.Empty):
    """Nothing to get (get_nowait, or get past its timeout)."""


@dataclass(frozen=True, slots=True)
class BufferStats:
    """A ring buffer's figures at one instant (counters since it was made).

    ``full`` counts puts that found the buffer full (whatever the policy did
    then); ``full / puts_attempted`` is the buffer-full rate to alert on.
    """

    name: str
    policy: str
    capacity: int
    items: int
    puts: int  # items accepted
    gets: int  # items handed out
    dropped: int  # evicted by DropOldest
    rejected: int  # refused by FailFast, or by Block past its timeout
    full: int  # puts that found the buffer full
    high_water: int  # the most items it ever held

    @property
    def level(self) -> float:
        """Return the fill ratio (0 empty, 1 full)."""
        return self.items / self.capacity

    @property
    def puts_attempted(self) -> int:
        """Return every put: accepted or rejected."""
        return self.puts + self.rejected


class _ThreadWaiter:
    """A thread parked on the buffer: a lock it blocks on, released to wake it."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def wait(self, timeout: float | None) -> bool:
        return self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0))

    def wake(self) -> bool:
        self._lock.release()
        return True


class _AsyncWaiter:
    """A coroutine parked on the buffer: a future on its loop, resolved to wake it."""

    __slots__ = ("fut", "loop", "retry")

    def __init__(self, loop: asyncio.AbstractEventLoop, retry: Callable[[], None]) -> None:
        self.loop = loop
        self.fut: asyncio.Future[None] = loop.create_future()
        self.retry = retry  # passes the wake-up on if this one was cancelled meanwhile

    def wake(self) -> bool:
        if self.fut.done():  # cancelled already: wake the next one instead
            return False
        if asyncio._get_running_loop() is self.loop:
            self.fut.set_result(None)
        else:
            try:
                self.loop.call_soon_threadsafe(self._resolve)
            except RuntimeError:  # its loop is closed: nobody is waiting any more
                return False
        return True

    def _resolve(self) -> None:
        if self.fut.done():
            self.retry()
        else:
            self.fut.set_result(None)


_Waiter = _ThreadWaiter | _AsyncWaiter
_UNSET = -1.0


class RingBuffer(Generic[T]):
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
        self.capacity = capacity
        self.policy = Policy(policy)
        self.timeout = timeout
        self.name = name
        self.on_drop = on_drop
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._getters: deque[_Waiter] = deque()
        self._putters: deque[_Waiter] = deque()
        self._puts = self._gets = self._dropped = self._rejected = self._full = 0
        self._high = 0
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
                self._puts,
                self._gets,
                self._dropped,
                self._rejected,
                self._full,
                self._high,
            )

    # -- put -------------------------------------------------------------------

    def _add(self, item: T) -> T | None:
        """Add under the lock when there is room or the policy makes some; else raise Full.

        Returns the item DropOldest evicted, if any. Caller holds the lock.
        """
        items = self._items
        evicted = None
        if len(items) >= self.capacity:
            self._full += 1
            if self.policy is Policy.DROP_OLDEST:
                evicted = items.popleft()
                self._dropped += 1
            else:
                self._rejected += 1
                raise Full
        items.append(item)
        self._puts += 1
        if len(items) > self._high:
            self._high = len(items)
        if self._getters:
            self._wake_one(self._getters)
        return evicted

    def put_nowait(self, item: T) -> None:
        """Add ``item`` without waiting; ``Full`` when full under Block or FailFast."""
        with self._lock:
            evicted = self._add(item)
        if evicted is not None and self.on_drop is not None:
            self.on_drop(evicted)

    def put(self, item: T, timeout: float | None = _UNSET) -> None:
        """Add ``item``; under Block wait for room up to ``timeout`` s (then ``Full``)."""
        with self._lock:
            items = self._items
            if len(items) < self.capacity:  # the fast path: room, nobody to evict
                items.append(item)
                self._puts += 1
                if len(items) > self._high:
                    self._high = len(items)
                if self._getters:
                    self._wake_one(self._getters)
                return
            if self.policy is not Policy.BLOCK:
                evicted = self._add(item)
            else:
                evicted = None
                self._full += 1
        if self.policy is not Policy.BLOCK:
            if evicted is not None and self.on_drop is not None:
                self.on_drop(evicted)
            return
        self._put_blocking(item, self.timeout if timeout == _UNSET else timeout)

    def _put_blocking(self, item: T, timeout: float | None) -> None:
        _refuse_in_loop("put", "aput")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            waiter = _ThreadWaiter()
            with self._lock:
                if len(self._items) < self.capacity:
                    self._add(item)
                    return
                self._putters.append(waiter)
            left = None if deadline is None else deadline - time.monotonic()
            if waiter.wait(left):
                continue
            with self._lock:  # timed out: gone from the queue, or woken just now
                _discard(self._putters, waiter)
                if len(self._items) < self.capacity:
                    self._add(item)
                    return
                self._rejected += 1
            raise Full

    async def aput(self, item: T) -> None:
        """Add ``item`` from a coroutine; under Block wait for room (``timeout`` s, then Full)."""
        with self._lock:
            if len(self._items) < self.capacity or self.policy is not Policy.BLOCK:
                evicted = self._add(item)
                waiter = None
            else:
                self._full += 1
                evicted = None
                waiter = self._park(self._putters, self._rewake_putter)
        if waiter is None:
            if evicted is not None and self.on_drop is not None:
                self.on_drop(evicted)
            return
        await self._await_room(item, waiter)

    async def _await_room(self, item: T, waiter: _AsyncWaiter) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                async with asyncio.timeout(left):
                    await waiter.fut
            except TimeoutError:
                with self._lock:
                    _discard(self._putters, waiter)
                    if len(self._items) < self.capacity:
                        self._add(item)
                        return
                    self._rejected += 1
                raise Full from None
            except BaseException:  # cancelled: the item is not added
                with self._lock:
                    if not _discard(self._putters, waiter):
                        self._rewake_putter_locked()
                raise
            with self._lock:
                if len(self._items) < self.capacity:
                    self._add(item)
                    return
                waiter = self._park(self._putters, self._rewake_putter)

    # -- get -------------------------------------------------------------------

    def _take(self) -> T:
        """Remove the oldest item; the caller holds the lock and saw one."""
        item = self._items.popleft()
        self._gets += 1
        if self._putters:
            self._wake_one(self._putters)
        return item

    def get_nowait(self) -> T:
        """Remove and return the oldest item; ``Empty`` when there is none."""
        with self._lock:
            if self._items:
                return self._take()
        raise Empty

    def drain(self, max_items: int | None = None) -> list[T]:
        """Remove and return up to ``max_items`` items (all of them by default), oldest first."""
        with self._lock:
            items = self._items
            n = len(items) if max_items is None else min(max_items, len(items))
            out = [items.popleft() for _ in range(n)]
            self._gets += n
            for _ in range(min(n, len(self._putters))):
                self._wake_one(self._putters)
        return out

    def get(self, timeout: float | None = _UNSET) -> T:
        """Remove and return the oldest item, waiting up to ``timeout`` s for one (then Empty)."""
        with self._lock:
            items = self._items
            if items:
                item = items.popleft()
                self._gets += 1
                if self._putters:
                    self._wake_one(self._putters)
                return item
        return self._get_blocking(self.timeout if timeout == _UNSET else timeout)

    def _get_blocking(self, timeout: float | None) -> T:
        _refuse_in_loop("get", "aget")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            waiter = _ThreadWaiter()
            with self._lock:
                if self._items:
                    return self._take()
                self._getters.append(waiter)
            left = None if deadline is None else deadline - time.monotonic()
            if waiter.wait(left):
                continue
            with self._lock:
                _discard(self._getters, waiter)
                if self._items:
                    return self._take()
            raise Empty

    async def aget(self) -> T:
        """Remove and return the oldest item from a coroutine, waiting for one."""
        while True:
            with self._lock:
                if self._items:
                    return self._take()
                waiter = self._park(self._getters, self._rewake_getter)
            try:
                await waiter.fut
            except BaseException:  # cancelled: pass a wake-up meant for it on
                with self._lock:
                    if not _discard(self._getters, waiter):
                        self._rewake_getter_locked()
                raise

    # -- waking ------------------------------------------------------------------

    def _park(self, waiters: deque[_Waiter], retry: Callable[[], None]) -> _AsyncWaiter:
        waiter = _AsyncWaiter(asyncio.get_running_loop(), retry)
        waiters.append(waiter)
        return waiter

    @staticmethod
    def _wake_one(waiters: deque[_Waiter]) -> None:
        while waiters:
            if waiters.popleft().wake():
                return

    def _rewake_getter_locked(self) -> None:
        if self._items and self._getters:
            self._wake_one(self._getters)

    def _rewake_putter_locked(self) -> None:
        if len(self._items) < self.capacity and self._putters:
            self._wake_one(self._putters)

    def _rewake_getter(self) -> None:
        with self._lock:
            self._rewake_getter_locked()

    def _rewake_putter(self) -> None:
        with self._lock:
            self._rewake_putter_locked()

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return (
            f"<RingBuffer{label} {len(self._items)}/{self.capacity} {self.policy.value}"
            f" dropped={self._dropped} rejected={self._rejected}>"
        )


def _discard(waiters: deque[_Waiter], waiter: _Waiter) -> bool:
    """Remove ``waiter`` if still queued; False when a wake-up already took it off."""
    try:
        waiters.remove(waiter)
    except ValueError:
        return False
    return True


def _refuse_in_loop(name: str, instead: str) -> None:
    if asyncio._get_running_loop() is not None:
        raise RuntimeError(
            f"RingBuffer.{name}() would block the event loop's thread; await {instead}() instead"
        )
