"""py-worker-pool (control): 32 worker tasks on one job queue, fed occasional jobs."""

from __future__ import annotations

import asyncio
import hashlib

from leakhunter_zoo_py._common import Flags, drive, run


async def worker(jobs: asyncio.Queue[bytes], done: list[int]) -> None:
    while True:
        job = await jobs.get()
        hashlib.sha256(job).digest()
        done[0] += 1
        jobs.task_done()


async def scenario(flags: Flags) -> None:
    jobs: asyncio.Queue[bytes] = asyncio.Queue(maxsize=256)
    done = [0]
    workers = [asyncio.create_task(worker(jobs, done)) for _ in range(32)]

    async def submit(n: int) -> None:
        await jobs.put(n.to_bytes(8, "little") * 512)

    try:
        await drive(flags.rate, flags.duration, submit)
        await asyncio.sleep(3600)
    finally:
        for w in workers:
            w.cancel()


if __name__ == "__main__":
    run(50.0, scenario)
