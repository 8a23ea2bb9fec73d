"""Back-pressure defences for Python services: a bounded ring buffer and a buffer pool.

    from leakhunter.guard import BufferPool, DropOldest, RingBuffer

    outbox = RingBuffer(10_000, DropOldest, name="kafka-outbox")   # never grows past 10,000
    await outbox.aput(message)          # request path (asyncio); put() from threads
    batch = outbox.drain(500)           # writer: up to 500 at a time, oldest first
    pool = BufferPool(64, 64 * 1024, name="frames")
    with pool.buffer() as buf: ...      # a reused, zeroed 64 KiB bytearray

``RingBuffer(capacity, policy)`` takes ``Block`` (wait for room, optionally with a
timeout), ``DropOldest`` (evict and count) or ``FailFast`` (raise ``Full`` and
count); it keeps its fill level, the full/dropped/rejected counters and the high
water mark. ``BufferPool(size, capacity)`` hands out reusable bytearrays, resets
them on return, drops (and counts) any that grew past ``max_capacity`` and
reports its hit ratio. Named guards show in the agent's ``/debug/vars`` (so
``leakhunter watch`` and ``serve`` see them beside the verdict) and, through
``leakhunter.guard.metrics.register_metrics()``, as ``leakhunter_buffer_*`` and
``leakhunter_pool_*`` Prometheus metrics. See docs/python.md.
"""

from __future__ import annotations

from leakhunter.guard._registry import figures
from leakhunter.guard.policy import (
    Block,
    BufferStats,
    DropOldest,
    Empty,
    FailFast,
    Full,
    Policy,
)
from leakhunter.guard.pool import BufferPool, PoolStats
from leakhunter.guard.ring import RingBuffer

__all__ = [
    "Block",
    "BufferPool",
    "BufferStats",
    "DropOldest",
    "Empty",
    "FailFast",
    "Full",
    "Policy",
    "PoolStats",
    "RingBuffer",
    "figures",
]
