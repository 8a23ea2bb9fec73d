"""py-thread-never-joined-fixed: the handler sets ``done`` on every path.

The fix of py-thread-never-joined: ``try/finally: done.set()``, so every
watchdog thread returns and its request snapshot goes. Same functions as
threadleak.
"""

from __future__ import annotations

from leakhunter_zoo_py import threadleak
from leakhunter_zoo_py._common import Flags, run


async def scenario(flags: Flags) -> None:
    await threadleak.scenario(flags, fixed=True)


if __name__ == "__main__":
    run(30.0, scenario)
