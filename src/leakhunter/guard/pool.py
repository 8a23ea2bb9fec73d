"""A pool of reusable fixed-size bytearrays, with the guards sync.Pool users learn the hard way.

``acquire()`` hands out a ``bytearray`` of exactly ``capacity`` bytes, reused
when one is idle (a hit) or new (a miss); ``release()`` resets it and keeps it
for the next caller, at most ``size`` of them. Three misuses are caught and
counted instead of silently costing memory:

* a buffer that grew past ``max_capacity`` (``buf += ...`` on a big payload)
  is dropped, not pooled: keeping it would pin its largest size forever, the
  Go ``sync.Pool`` pitfall of pooling a 1 MB buffer for every later 1 KB use;
* a buffer released twice is kept once (twice would hand it to two users);
* a buffer is reset (zeroed, its length restored) before reuse, so one
  request's bytes never show up in the next one's buffer.

A falling hit ratio means buffers are not coming back (held past their use,
or the pool is too small for the concurrency); ``in_use`` rising without
bound is a leak of pooled buffers.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from leakhunter.guard._registry import register

__all__ = ["BufferPool", "PoolStats"]


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A pool's figures at one instant (counters since it was made)."""

    name: str
    size: int
    capacity: int
    idle: int  # buffers waiting in the pool
    in_use: int  # handed out and not given back
    gets: int
    hits: int  # gets served by an idle buffer
    oversized: int  # released buffers dropped for growing past max_capacity
    discarded: int  # released buffers dropped because the pool was full
    double_releases: int  # releases of a buffer already in the pool (ignored)

    @property
    def hit_ratio(self) -> float:
        """Return hits / gets (1.0 before the first get)."""
        return self.hits / self.gets if self.gets else 1.0

    @property
    def misses(self) -> int:
        """Return gets that had to allocate a new buffer."""
        return self.gets - self.hits


class BufferPool:
    """Keeps up to ``size`` idle ``bytearray`` buffers of ``capacity`` bytes for reuse.

    Args:
        size: most idle buffers kept (> 0).
        capacity: bytes of each buffer handed out (> 0).
        max_capacity: a released buffer longer than this is dropped (default 2 x capacity).
        reset: zero a buffer's bytes on release (default); off, only its length is restored.
        name: names the pool in metrics and ``/debug/vars`` (unnamed ones are not listed).
    """

    def __init__(
        self,
        size: int,
        capacity: int,
        *,
        max_capacity: int | None = None,
        reset: bool = True,
        name: str = "",
    ) -> None:
        if size <= 0 or capacity <= 0:
            raise ValueError("size and capacity must be positive")
        self.size = size
        self.capacity = capacity
        self.max_capacity = max(capacity, 2 * capacity if max_capacity is None else max_capacity)
        self.reset = reset
        self.name = name
        self._zeros = bytes(capacity)
        self._idle: list[bytearray] = []
        self._idle_ids: set[int] = set()
        self._lock = threading.Lock()
        self._gets = self._hits = self._released = 0
        self._oversized = self._discarded = self._double = 0
        if name:
            register(self)

    def acquire(self) -> bytearray:
        """Return a buffer of ``capacity`` bytes: an idle one if any (a hit), else a new one."""
        with self._lock:
            self._gets += 1
            if self._idle:
                self._hits += 1
                buf = self._idle.pop()
                self._idle_ids.discard(id(buf))
                return buf
        return bytearray(self._zeros)

    def release(self, buf: bytearray) -> None:
        """Give a buffer back: reset and kept, or dropped (grown past the bound, pool full)."""
        if len(buf) > self.max_capacity:
            with self._lock:
                self._released += 1
                self._oversized += 1
            return
        if self.reset or len(buf) != self.capacity:
            buf[:] = self._zeros  # one memcpy; the allocation is kept when it fits
        with self._lock:
            if id(buf) in self._idle_ids:
                self._double += 1
                return
            self._released += 1
            if len(self._idle) >= self.size:
                self._discarded += 1
                return
            self._idle.append(buf)
            self._idle_ids.add(id(buf))

    @contextlib.contextmanager
    def buffer(self) -> Iterator[bytearray]:
        """Lend a buffer for the block: ``with pool.buffer() as buf: ...`` (released after)."""
        buf = self.acquire()
        try:
            yield buf
        finally:
            self.release(buf)

    def stats(self) -> PoolStats:
        """Return the pool's figures now (consistent with each other)."""
        with self._lock:
            return PoolStats(
                self.name,
                self.size,
                self.capacity,
                len(self._idle),
                max(self._gets - self._released, 0),
                self._gets,
                self._hits,
                self._oversized,
                self._discarded,
                self._double,
            )

    def __repr__(self) -> str:
        s = self.stats()
        label = f" {self.name!r}" if self.name else ""
        return f"<BufferPool{label} idle={s.idle}/{s.size} hit_ratio={s.hit_ratio:.2f}>"
