"""py-task-queue-no-consumer-fixed: the handler cancels the watcher it gives up on.

The fix of py-task-queue-no-consumer: on the slow-provider timeout path,
``task.cancel()`` the confirmation watcher, so it leaves ``queue.get()`` and
releases its order. The code is taskqueue's own (same function names).
"""

from __future__ import annotations

from leakhunter_zoo_py import taskqueue
from leakhunter_zoo_py._common import Flags, run


async def scenario(flags: Flags) -> None:
    await taskqueue.scenario(flags, fixed=True)


if __name__ == "__main__":
    run(40.0, scenario)
