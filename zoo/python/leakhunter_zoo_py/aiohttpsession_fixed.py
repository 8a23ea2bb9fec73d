"""py-aiohttp-session-not-closed-fixed: one ClientSession, every response released.

The fix of py-aiohttp-session-not-closed: the client keeps one session for its
life and reads each response inside ``async with`` (released to the pool).
Same functions as aiohttpsession.
"""

from __future__ import annotations

from leakhunter_zoo_py import aiohttpsession
from leakhunter_zoo_py._common import Flags, run


async def scenario(flags: Flags) -> None:
    await aiohttpsession.scenario(flags, fixed=True)


if __name__ == "__main__":
    run(25.0, scenario)
