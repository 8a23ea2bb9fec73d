"""A plain asyncio service with the leakhunter agent and a bounded writer buffer.

    python docs/examples/asyncio_service.py            # agent on 127.0.0.1:6060
    leakhunter watch http://127.0.0.1:6060 --snapshots 10 --interval 1s

Request handlers publish events to a writer through a RingBuffer(DropOldest):
the sink is slower than the requests, so the buffer fills and then drops the
oldest events (counted) instead of growing. ``watch`` shows the buffer beside
its verdict (no leak); its metrics are on http://127.0.0.1:9100/metrics.
"""

from __future__ import annotations

import asyncio
import json
import sys

from prometheus_client import start_http_server

import leakhunter.agent
from leakhunter.guard import DropOldest, RingBuffer
from leakhunter.guard.metrics import register_metrics


async def write_to_sink(batch: list[bytes]) -> None:
    await asyncio.sleep(0.2)  # a slow broker: one small batch per round trip


async def writer(outbox: RingBuffer[bytes]) -> None:
    while True:
        await write_to_sink(await outbox.aget_many(4))


async def main(seconds: float) -> None:
    # started inside the running loop: its tasks are listed, with who created them
    agent = leakhunter.agent.start(port=6060)
    register_metrics()  # leakhunter_buffer_* / leakhunter_pool_* in the default registry
    start_http_server(9100)
    outbox: RingBuffer[bytes] = RingBuffer(200, DropOldest, name="events")
    task = asyncio.create_task(writer(outbox))
    print(f"agent on {agent.url}, metrics on http://127.0.0.1:9100/metrics", flush=True)
    for n in range(int(seconds * 100)):  # 100 requests a second
        outbox.put_nowait(json.dumps({"request": n}).encode().ljust(2048))
        await asyncio.sleep(0.01)
    task.cancel()
    agent.stop()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0))
