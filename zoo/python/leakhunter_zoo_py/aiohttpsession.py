"""py-aiohttp-session-not-closed: a ClientSession per call, kept and never closed.

The inventory client opens a new ``aiohttp.ClientSession`` for every stock
lookup, reads the first NDJSON record and returns without releasing the
response or closing the session; it keeps each session in ``self._open`` for a
``close_all()`` that shutdown never calls. Every call leaves a session, its
connector, a pooled keep-alive connection and its socket behind. The upstream
runs as a separate process.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import warnings

import aiohttp

from leakhunter_zoo_py._common import Flags, drive, run


class InventoryClient:
    def __init__(self, base: str, *, shared: bool = False) -> None:
        self.base = base
        self._open: list[aiohttp.ClientSession] = []
        self._shared = shared  # the fix (aiohttpsession_fixed)
        self._session: aiohttp.ClientSession | None = None

    async def fetch_stock(self, sku: int) -> int:
        if self._shared:
            # the fix: one session for the client's life; the response is released
            if self._session is None:
                self._session = aiohttp.ClientSession()
            async with self._session.get(f"{self.base}/stock?sku={sku}") as resp:
                first = await resp.content.readline()
            return int(json.loads(first)["qty"])
        session = aiohttp.ClientSession()
        self._open.append(session)  # "closed at shutdown" - close_all() is never called
        resp = await session.get(f"{self.base}/stock?sku={sku}")
        first = await resp.content.readline()  # the rest is never read, resp never released
        return int(json.loads(first)["qty"])

    async def close_all(self) -> None:
        for s in self._open:
            await s.close()


def start_upstream() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakhunter_zoo_py.upstream"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    return proc, "http://" + line.rsplit(" ", 1)[-1]


async def scenario(flags: Flags, *, fixed: bool = False) -> None:
    warnings.simplefilter("ignore")
    proc, base = await asyncio.to_thread(start_upstream)
    client = InventoryClient(base, shared=fixed)
    try:

        async def lookup(n: int) -> None:
            await client.fetch_stock(n)

        await drive(flags.rate, flags.duration, lookup, concurrent=True)
        await asyncio.sleep(3600)
    finally:
        proc.kill()


if __name__ == "__main__":
    run(25.0, scenario)
