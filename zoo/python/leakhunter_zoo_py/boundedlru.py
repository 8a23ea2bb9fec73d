"""py-bounded-lru (control): avatars behind functools.lru_cache(maxsize=2000); plateaus."""

from __future__ import annotations

import functools
import random

from leakhunter_zoo_py._common import Flags, drive, run


@functools.lru_cache(maxsize=2000)
def render_avatar(user: int) -> bytes:
    return random.randbytes(4096)


async def handle_avatar(n: int) -> None:
    render_avatar(random.randrange(10**9))


async def scenario(flags: Flags) -> None:
    await drive(flags.rate, flags.duration, handle_avatar)


if __name__ == "__main__":
    run(800.0, scenario)
