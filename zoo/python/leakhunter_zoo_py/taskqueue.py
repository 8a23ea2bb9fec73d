"""py-task-queue-no-consumer: order watchers parked on a queue nobody feeds.

Each order starts a confirmation watcher task that waits on the order's own
queue for the payment provider's answer. When the provider is slow the handler
gives up (timeout) and returns, but nobody cancels the watcher or feeds its
queue: it waits on ``queue.get()`` forever, holding the 8 KB order document.
"""

from __future__ import annotations

import asyncio
import random

from leakhunter_zoo_py._common import Flags, drive, run


class OrderService:
    def __init__(self, *, cancel_on_timeout: bool = False) -> None:
        self.watchers: set[asyncio.Task[None]] = set()
        self.confirmed = 0
        self.cancel_on_timeout = cancel_on_timeout  # the fix (taskqueue_fixed)

    async def watch_confirmation(self, order: bytes, answers: asyncio.Queue[str]) -> None:
        status = await answers.get()  # never fed once place_order timed out
        if status == "ok":
            self.confirmed += len(order) > 0

    async def place_order(self, n: int) -> None:
        order = random.randbytes(8192)
        answers: asyncio.Queue[str] = asyncio.Queue()
        task = asyncio.create_task(self.watch_confirmation(order, answers))
        self.watchers.add(task)
        task.add_done_callback(self.watchers.discard)
        if n % 4 == 0:  # fast provider: answers in time
            answers.put_nowait("ok")
            return
        # slow provider: the handler returns on timeout and forgets the watcher
        if self.cancel_on_timeout:
            task.cancel()  # the fix: nobody will answer, so the watcher goes


async def scenario(flags: Flags, *, fixed: bool = False) -> None:
    svc = OrderService(cancel_on_timeout=fixed)  # lives as long as the service
    await drive(flags.rate, flags.duration, svc.place_order)
    await asyncio.Event().wait()


if __name__ == "__main__":
    run(40.0, scenario)
