"""py-unbounded-writer-buffer: an event writer queues without bound in front of a slow sink.

Request handlers publish a 2 KB event each to an aiokafka-style writer: the
event is encoded and put on the writer's ``asyncio.Queue()`` (no maxsize), and
one writer task sends batches to the sink. The sink takes a batch of at most
four events per 0.2 s round trip (20 events/s); requests publish 150 a second.
Nothing pushes back on the request path, so the backlog, and the heap, grow by
~270 KB/s for as long as the service runs, every byte allocated in
``encode_event`` and held by the queue.

The fix (eventwriter_fixed, the same code) puts the writer behind
``leakhunter.guard.RingBuffer(200, DropOldest)``: memory stops at the bound
and the buffer's drop counter rises instead (``/debug/vars``, the verdict).
"""

from __future__ import annotations

import asyncio
import json
import random

from leakhunter.guard import DropOldest, RingBuffer
from leakhunter_zoo_py._common import Flags, drive, run

#: the fixed variant (eventwriter_fixed) bounds the buffer; None is the bug
BOUND: int | None = None
_BATCH = 4
_ROUND_TRIP = 0.2


class SlowSink:
    """A broker that takes one small batch per round trip (the bottleneck)."""

    def __init__(self) -> None:
        self.written = 0

    async def write_batch(self, batch: list[bytes]) -> None:
        await asyncio.sleep(_ROUND_TRIP)
        self.written += len(batch)


def encode_event(request_id: int, user: str) -> bytes:
    """Render one event as the sink wants it: JSON, padded to a 2 KB record."""
    doc = {"id": request_id, "user": user, "path": "/checkout", "ms": random.random() * 40}
    text = json.dumps(doc).encode()
    return text + b" " * max(0, 2048 - len(text))


class EventWriter:
    """Buffers events for the sink; handlers publish, one task writes batches."""

    def __init__(self, sink: SlowSink) -> None:
        self.sink = sink
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()  # the bug: no maxsize
        self.ring: RingBuffer[bytes] | None = None
        if BOUND is not None:  # the fix: a bound with an explicit policy, drops counted
            self.ring = RingBuffer(BOUND, DropOldest, name="event-writer")

    def publish(self, request_id: int, user: str) -> None:
        event = encode_event(request_id, user)
        if self.ring is not None:
            self.ring.put_nowait(event)
        else:
            self.queue.put_nowait(event)

    async def _next_batch(self) -> list[bytes]:
        if self.ring is not None:
            return await self.ring.aget_many(_BATCH)
        batch = [await self.queue.get()]
        while len(batch) < _BATCH and not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch

    async def run(self) -> None:
        while True:
            await self.sink.write_batch(await self._next_batch())


async def scenario(flags: Flags) -> None:
    writer = EventWriter(SlowSink())
    task = asyncio.create_task(writer.run(), name="event-writer")

    async def handle_request(n: int) -> None:
        writer.publish(n, f"user-{n % 997}")

    try:
        await drive(flags.rate, flags.duration, handle_request)
        await asyncio.Event().wait()
    finally:
        task.cancel()


if __name__ == "__main__":
    run(150.0, scenario)
