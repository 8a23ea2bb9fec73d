"""The back-pressure policies, their exceptions and a ring buffer's figures."""

from __future__ import annotations

import enum
import queue
from dataclasses import dataclass

__all__ = ["Block", "BufferStats", "DropOldest", "Empty", "FailFast", "Full", "Policy"]


class Policy(enum.Enum):
    """What ``put`` does when the buffer is full."""

    BLOCK = "block"  # wait for room (up to a timeout), then raise Full
    DROP_OLDEST = "drop-oldest"  # evict the oldest item, count it as dropped
    FAIL_FAST = "fail-fast"  # refuse the new item at once: raise Full, count it as rejected


Block = Policy.BLOCK
DropOldest = Policy.DROP_OLDEST
FailFast = Policy.FAIL_FAST


class Full(queue.Full):
    """The buffer refused an item (FailFast, or Block past its timeout)."""


class Empty(queue.Empty):
    """Nothing to get (get_nowait, or get past its timeout)."""


@dataclass(frozen=True, slots=True)
class BufferStats:
    """A ring buffer's figures at one instant (counters since it was made).

    ``full`` counts puts that found the buffer full (whatever the policy did
    then); ``full / puts_attempted`` is the buffer-full rate to alert on.
    """

    name: str
    policy: str
    capacity: int
    items: int
    puts: int  # items accepted
    gets: int  # items handed out
    dropped: int  # evicted by DropOldest
    rejected: int  # refused by FailFast, or by Block past its timeout
    full: int  # puts that found the buffer full
    high_water: int  # the most items it ever held

    @property
    def level(self) -> float:
        """Return the fill ratio (0 empty, 1 full)."""
        return self.items / self.capacity

    @property
    def puts_attempted(self) -> int:
        """Return every put: accepted or rejected."""
        return self.puts + self.rejected
