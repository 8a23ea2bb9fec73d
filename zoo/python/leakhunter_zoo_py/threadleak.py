"""py-thread-never-joined: a watchdog thread per request waits on an Event never set.

The request tracker starts a watchdog thread per request to log requests that
run too long; the handler is supposed to set ``done`` when it finishes, but the
early-return path forgets, so those watchdogs wait forever (never joined) and
keep their 16 KB request snapshot alive.
"""

from __future__ import annotations

import random
import threading

from leakhunter_zoo_py._common import Flags, drive, run


class RequestTracker:
    def __init__(self, *, always_signal: bool = False) -> None:
        self.slow = 0
        self.always_signal = always_signal  # the fix (threadleak_fixed)

    def watchdog(self, snapshot: bytes, done: threading.Event) -> None:
        if not done.wait():  # no timeout: waits forever when nobody sets it
            self.slow += len(snapshot) > 0

    def handle(self, n: int) -> None:
        done = threading.Event()
        snapshot = random.randbytes(16384)
        threading.Thread(target=self.watchdog, args=(snapshot, done), daemon=True).start()
        if self.always_signal:
            try:  # the fix: done is set on every path, early returns included
                if n % 3 == 0:
                    return
            finally:
                done.set()
            return
        if n % 3 == 0:
            return  # early return: done is never set
        done.set()


async def scenario(flags: Flags, *, fixed: bool = False) -> None:
    tracker = RequestTracker(always_signal=fixed)

    async def one(n: int) -> None:
        tracker.handle(n)

    await drive(flags.rate, flags.duration, one)


if __name__ == "__main__":
    run(30.0, scenario)
