"""The inventory upstream for py-aiohttp-session-not-closed: a separate aiohttp process.

Serves ``/stock`` as a few NDJSON records and keeps connections alive; prints
``upstream on HOST:PORT``. It exits when its parent does (stdin closes).
"""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import web


async def stock(request: web.Request) -> web.Response:
    records = [json.dumps({"sku": i, "qty": i * 3}) for i in range(8)]
    return web.Response(text="\n".join(records) + "\n", content_type="application/x-ndjson")


async def main() -> None:
    app = web.Application()
    app.router.add_get("/stock", stock)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=3600)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"upstream on 127.0.0.1:{port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
