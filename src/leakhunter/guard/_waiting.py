"""The machinery under RingBuffer: its state, its waiters and how they are woken.

Threads park on a lock of their own (released to wake them); coroutines on a
future of their loop, kept as a (future, thread id) tuple. Waiters queue up in
FIFO order and are woken one at a time under the buffer's lock; a coroutine
woken from another thread is resolved on its loop (``call_soon_threadsafe``).
A waiter that is woken and then cancelled, or whose timeout ends at the same
moment, passes the wake-up on, so no item or free slot is ever left with
someone waiting for it. The waits themselves (a blocking ``put``/``get``, a
coroutine waiting for room) are here too; the fast paths are RingBuffer's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Generic, TypeVar

from leakhunter.guard.policy import Empty, Full

__all__ = ["UNSET", "BufferCore", "discard_waiter"]

T = TypeVar("T")


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
UNSET = -1.0  # "the buffer's timeout" (a negative wait means nothing else)


class BufferCore(Generic[T]):
    """A bounded deque, its lock, its waiters and counters (RingBuffer's base)."""

    def __init__(self, capacity: int, timeout: float | None) -> None:
        self.capacity = capacity
        self.timeout = timeout
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._getters: deque[_Waiter] = deque()
        self._putters: deque[_Waiter] = deque()
        # accepted puts are not counted: each is still here, was taken or was dropped,
        # so puts = gets + items + dropped (one add less on every put)
        self._gets = self._dropped = self._rejected = self._full = 0
        self._high = 0
        self._loop: asyncio.AbstractEventLoop | None = None  # see _future

    def _append(self, item: T) -> None:
        """Add an item; the caller holds the lock and saw room."""
        items = self._items
        n = len(items)
        items.append(item)
        if n >= self._high:
            self._high = n + 1
        if self._getters:
            self._wake_one(self._getters)

    def _take(self) -> T:
        """Remove the oldest item; the caller holds the lock and saw one."""
        item = self._items.popleft()
        self._gets += 1
        if self._putters:
            self._wake_one(self._putters)
        return item

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

    # -- waiting ---------------------------------------------------------------

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
                discard_waiter(self._putters, waiter)
                if len(self._items) < self.capacity:
                    self._append(item)
                    return
                self._rejected += 1
            raise Full

    async def _await_room(self, item: T, waiter: _AsyncWaiter) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                async with asyncio.timeout(left):
                    await waiter[0]
            except TimeoutError:
                with self._lock:
                    discard_waiter(self._putters, waiter)
                    if len(self._items) < self.capacity:
                        self._append(item)
                        return
                    self._rejected += 1
                raise Full from None
            except BaseException:  # cancelled: the item is not added
                with self._lock:
                    if not discard_waiter(self._putters, waiter):
                        self._rewake_putter_locked()
                raise
            with self._lock:
                if len(self._items) < self.capacity:
                    self._append(item)
                    return
                waiter = self._park(self._putters)

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
                discard_waiter(self._getters, waiter)
                if self._items:
                    return self._take()
            raise Empty

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


def discard_waiter(waiters: deque[_Waiter], waiter: _Waiter) -> bool:
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
