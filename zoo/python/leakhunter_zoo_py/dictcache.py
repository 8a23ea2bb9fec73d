"""py-unbounded-dict-cache: rendered quotes memoised in a module-level dict, never evicted."""

from __future__ import annotations

import json
import random

from leakhunter_zoo_py._common import Flags, drive, run

_rendered: dict[str, bytes] = {}
#: the fixed variant (dictcache_fixed) bounds the cache; None is the bug: no bound
LIMIT: int | None = None


def render_quote(request_id: str, symbol: str) -> bytes:
    body = {"id": request_id, "symbol": symbol, "bids": [random.random() for _ in range(40)]}
    text = json.dumps(body).encode()
    return text + b" " * max(0, 4096 - len(text))


def cache_response(request_id: str, symbol: str) -> bytes:
    cached = _rendered.get(request_id)
    if cached is None:
        cached = _rendered[request_id] = render_quote(request_id, symbol)
        if LIMIT is not None and len(_rendered) > LIMIT:
            del _rendered[next(iter(_rendered))]  # the fix: evict the oldest entry
    return cached


async def handle_quote(n: int) -> None:
    cache_response(f"req-{n}-{random.getrandbits(32):08x}", random.choice(("AAPL", "GOOG")))


async def scenario(flags: Flags) -> None:
    await drive(flags.rate, flags.duration, handle_quote)


if __name__ == "__main__":
    run(150.0, scenario)
