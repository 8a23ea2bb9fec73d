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
from threading import get_ident
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

    def wake(self) -> None:
        self._lock.release()


#: a coroutine parked on the buffer: a future on its loop, and the loop's thread.
#: A plain tuple (an object with __init__ cost more than the rest of a wait); the
#: thread id tells a wake-up from the loop's own thread (resolve the future now)
#: from one from another thread (call_soon_threadsafe), where asking asyncio for
#: the running loop would cost a getpid() system call (~0.5 us on a VM).
_AsyncWaiter = tuple["asyncio.Future[None]", int]


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
        # accepted puts are not counted: each is still here, was taken or was dropped,
        # so puts = gets + items + dropped (one add less on every put)
        self._gets = self._dropped = self._rejected = self._full = 0
        self._high = 0
        self._loop: asyncio.AbstractEventLoop | None = None  # see _future
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

    def _append(self, item: T) -> None:
        """Add an item; the caller holds the lock and saw room."""
        items = self._items
        n = len(items)
        items.append(item)
        if n >= self._high:
            self._high = n + 1
        if self._getters:
            self._wake_one(self._getters)

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

    def put(self, item: T, timeout: float | None = _UNSET) -> None:
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
            self._put_blocking(item, self.timeout if timeout == _UNSET else timeout)
        elif self.on_drop is not None:
            self.on_drop(evicted)

    def _put_blocking(self, item: T, timeout: float | None) -> None:
        _refuse_in_loop("put", "aput")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            waiter = _ThreadWaiter()
            with self._lock:
                if len(self._items) < self.capacity:
                    self._append(item)
                    return
                self._putters.append(waiter)
            left = None if deadline is None else deadline - time.monotonic()
            if waiter.wait(left):
                continue
            with self._lock:  # timed out: gone from the queue, or woken just now
                _discard(self._putters, waiter)
                if len(self._items) < self.capacity:
                    self._append(item)
                    return
                self._rejected += 1
            raise Full

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

    async def _await_room(self, item: T, waiter: _AsyncWaiter) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                async with asyncio.timeout(left):
                    await waiter[0]
            except TimeoutError:
                with self._lock:
                    _discard(self._putters, waiter)
                    if len(self._items) < self.capacity:
                        self._append(item)
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
                    self._append(item)
                    return
                waiter = self._park(self._putters)

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

    def _take_many(self, max_items: int | None) -> list[T]:
        """Remove up to ``max_items`` items (all by default); the caller holds the lock."""
        items = self._items
        n = len(items) if max_items is None else max(0, min(max_items, len(items)))
        if n == len(items):
            out = list(items)
            items.clear()
        else:
            out = [items.popleft() for _ in range(n)]
        self._gets += n
        for _ in range(min(n, len(self._putters))):
            self._wake_one(self._putters)
        return out

    def drain(self, max_items: int | None = None) -> list[T]:
        """Remove and return up to ``max_items`` items (all of them by default), oldest first."""
        with self._lock:
            return self._take_many(max_items)

    def get_many(self, max_items: int | None = None, timeout: float | None = _UNSET) -> list[T]:
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
                    if not _discard(self._getters, waiter):
                        self._rewake_getter_locked()
                raise

    def get(self, timeout: float | None = _UNSET) -> T:
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
                    if not _discard(self._getters, waiter):
                        self._rewake_getter_locked()
                raise

    # -- waking ------------------------------------------------------------------

    def _park(self, waiters: deque[_Waiter]) -> _AsyncWaiter:
        waiter = self._future()
        waiters.append(waiter)
        return waiter

    def _future(self) -> _AsyncWaiter:
        """Return a new waiter on the running loop (the caller is a coroutine on it).

        The loop is remembered while it runs in this thread: asking asyncio for
        the running loop costs a getpid() system call on every wait (asyncio's
        own check that the process did not fork), ~0.5 us on a VM. A loop records
        the thread running it (``_thread_id``, None once stopped); one that does
        not is asked for every time.
        """
        thread = threading.get_ident()
        loop = self._loop
        if loop is None or getattr(loop, "_thread_id", None) != thread:
            loop = self._loop = asyncio.get_running_loop()
        return loop.create_future(), thread

    def _wake_one(self, waiters: deque[_Waiter]) -> None:
        """Wake the first waiter still waiting (the caller holds the lock)."""
        while waiters:
            waiter = waiters.popleft()
            if isinstance(waiter, _ThreadWaiter):
                waiter.wake()
                return
            fut, thread = waiter
            if fut.done():  # cancelled already: the next one
                continue
            if threading.get_ident() == thread:
                fut.set_result(None)
                return
            try:
                fut.get_loop().call_soon_threadsafe(self._resolve, fut, waiters is self._getters)
            except RuntimeError:  # its loop is closed: nobody is waiting any more
                continue
            return

    def _resolve(self, fut: asyncio.Future[None], getter: bool) -> None:
        """Resolve a wake-up on the waiter's loop, or pass it on if it was cancelled meanwhile."""
        if not fut.done():
            fut.set_result(None)
        elif getter:
            self._rewake_getter()
        else:
            self._rewake_putter()

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
