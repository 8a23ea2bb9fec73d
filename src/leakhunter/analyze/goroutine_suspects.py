"""Which groups of a single goroutine dump look like leaks, and why.

One dump cannot show growth, so these are hints, not verdicts: goroutines the
runtime proved leaked, goroutines blocked forever by construction (nil
channel, empty select), many goroutines parked on channels/select/sync, and
long waits there. IO, sleep and syscall waits are the normal shape of a
server and are never flagged on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from leakhunter.model.goroutine import GoroutineDump, GoroutineGroup, WaitClass

__all__ = ["LEAKY_CLASSES", "RankedGroup", "SuspectOptions", "rank_groups"]

#: Wait classes where leaked goroutines sit: nobody will ever wake them.
LEAKY_CLASSES = frozenset({WaitClass.CHANNEL, WaitClass.SELECT, WaitClass.SYNC})

_FOREVER = {
    "chan receive (nil chan)": "blocked forever receiving from a nil channel",
    "chan send (nil chan)": "blocked forever sending on a nil channel",
}


@dataclass(frozen=True, slots=True)
class SuspectOptions:
    """Thresholds for flagging groups of one dump.

    A group parked on a channel, select or sync primitive is flagged when it
    holds at least ``many`` goroutines, or at least ``min_count`` goroutines
    and ``share`` of the whole dump; or when one waited ``long_wait_minutes``.
    """

    many: int = 100
    min_count: int = 10
    share: float = 0.25
    long_wait_minutes: int = 10


@dataclass(frozen=True, slots=True)
class RankedGroup:
    """A group with the reasons it looks like a leak (none: it does not)."""

    group: GoroutineGroup
    reasons: tuple[str, ...] = ()

    @property
    def suspicious(self) -> bool:
        """Return True when at least one reason applies."""
        return bool(self.reasons)


def rank_groups(
    dump: GoroutineDump, options: SuspectOptions | None = None
) -> tuple[RankedGroup, ...]:
    """Return the dump's groups, biggest first, each with its suspicion reasons."""
    opts = options or SuspectOptions()
    total = dump.total
    ranked = [RankedGroup(g, _reasons(g, total, opts)) for g in dump.groups]
    ranked.sort(key=lambda r: -r.group.count)
    return tuple(ranked)


def _reasons(group: GoroutineGroup, total: int, opts: SuspectOptions) -> tuple[str, ...]:
    reasons: list[str] = []
    n = group.count
    if group.leaked:
        who = "all" if group.leaked == n else f"{group.leaked:,} of {n:,}"
        reasons.append(f"{who} proven leaked by the runtime's goroutineleak detector")
    forever = _FOREVER.get(group.state)
    if forever is not None:
        reasons.append(forever)
    elif group.state == "select (no cases)" and n > 1:
        reasons.append(f"{n:,} goroutines blocked forever in an empty select")
    cls = group.state_class
    if cls in LEAKY_CLASSES:
        if n >= opts.many or (n >= opts.min_count and total and n / total >= opts.share):
            share = f" ({n / total:.0%} of all)" if total else ""
            reasons.append(f"{n:,} goroutines parked on {cls.value}{share}")
        longest = group.wait_minutes_max
        if longest is not None and longest >= opts.long_wait_minutes:
            reasons.append(f"blocked for up to {longest} minutes")
    return tuple(reasons)
