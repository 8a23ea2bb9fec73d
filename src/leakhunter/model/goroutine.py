"""The goroutine model: dumps, goroutines, frames, groups and wait-state classes.

A dump may list goroutines one by one (debug=2, crash output) or only grouped
counts (debug=1, the debug=0 protobuf); both end up as GoroutineGroups, the unit
every later stage reasons about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Frame",
    "Goroutine",
    "GoroutineDump",
    "GoroutineGroup",
    "WaitClass",
    "classify_state",
    "group_goroutines",
]


class WaitClass(StrEnum):
    """Coarse class of a goroutine's wait state; leaks live in the first three."""

    CHANNEL = "channel"
    SELECT = "select"
    SYNC = "sync"
    IO = "io"
    SLEEP = "sleep"
    SYSCALL = "syscall"
    RUNNING = "running"
    OTHER = "other"


# Wait reasons as the Go runtime prints them (runtime/runtime2.go waitReasonStrings),
# across versions. Anything else is kept verbatim and classed OTHER.
_EXACT: dict[str, WaitClass] = {
    "chan receive": WaitClass.CHANNEL,
    "chan send": WaitClass.CHANNEL,
    "chan receive (nil chan)": WaitClass.CHANNEL,
    "chan send (nil chan)": WaitClass.CHANNEL,
    "chan receive (synctest)": WaitClass.CHANNEL,
    "chan send (synctest)": WaitClass.CHANNEL,
    "select": WaitClass.SELECT,
    "select (no cases)": WaitClass.SELECT,
    "select (synctest)": WaitClass.SELECT,
    "select (no cases) (synctest)": WaitClass.SELECT,
    "semacquire": WaitClass.SYNC,
    "sync.Cond.Wait": WaitClass.SYNC,
    "sync.Cond.Wait (synctest)": WaitClass.SYNC,
    "sync.Mutex.Lock": WaitClass.SYNC,
    "sync.RWMutex.RLock": WaitClass.SYNC,
    "sync.RWMutex.Lock": WaitClass.SYNC,
    "sync.WaitGroup.Wait": WaitClass.SYNC,
    "sync.WaitGroup.Wait (synctest)": WaitClass.SYNC,
    "IO wait": WaitClass.IO,
    "sleep": WaitClass.SLEEP,
    "timer goroutine (idle)": WaitClass.SLEEP,
    "syscall": WaitClass.SYSCALL,
    "running": WaitClass.RUNNING,
    "runnable": WaitClass.RUNNING,
    # Python tasks and threads as leakhunter.agent names their waits.
    "queue get": WaitClass.CHANNEL,
    "queue put": WaitClass.CHANNEL,
    "event wait": WaitClass.SYNC,
    "condition wait": WaitClass.SYNC,
    "lock": WaitClass.SYNC,
    "thread join": WaitClass.SYNC,
    "future": WaitClass.SYNC,
    "socket io": WaitClass.IO,
}


# Flags the runtime appends to a wait reason; they do not change its class.
_FLAG_SUFFIXES = (" (durable)", " (synctest)", " (leaked)", " (scan)")


def classify_state(state: str) -> WaitClass:
    """Return the class of a wait state string (unknown ones are OTHER)."""
    cls = _EXACT.get(state)
    if cls is not None:
        return cls
    while state.endswith(_FLAG_SUFFIXES):
        state = state[: state.rindex(" (")]
        cls = _EXACT.get(state)
        if cls is not None:
            return cls
    if state.startswith("chan "):
        return WaitClass.CHANNEL
    if state.startswith("select"):
        return WaitClass.SELECT
    if state.startswith(("sync.", "semacquire")):
        return WaitClass.SYNC
    return WaitClass.OTHER


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame; call arguments are deliberately not kept (they differ per goroutine)."""

    function: str
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Goroutine:
    """One goroutine from a full dump (debug=2 or crash output)."""

    id: int
    state: str
    frames: tuple[Frame, ...] = ()
    wait_minutes: int | None = None
    locked_to_thread: bool = False
    leaked: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    created_by: Frame | None = None
    creator_id: int | None = None
    elided: bool = False

    @property
    def state_class(self) -> WaitClass:
        """Return the class of this goroutine's wait state."""
        return classify_state(self.state)


@dataclass(frozen=True, slots=True)
class GoroutineGroup:
    """Goroutines sharing (state, stack of function+line); the unit of analysis.

    ``state`` is "" when the source format carries no wait state (debug=0/1) and
    ``state_inferred`` is set when it was deduced from the stack's leaf frames.
    ``labels`` are the pprof labels every member shares; ``creator_id`` is the
    goroutine that created every member, when they share one.
    """

    count: int
    state: str
    frames: tuple[Frame, ...]
    created_by: Frame | None = None
    wait_minutes_min: int | None = None
    wait_minutes_max: int | None = None
    leaked: int = 0
    labels: tuple[tuple[str, str], ...] = ()
    ids: tuple[int, ...] = ()
    state_inferred: bool = False
    creator_id: int | None = None

    @property
    def state_class(self) -> WaitClass:
        """Return the class of this group's wait state."""
        return classify_state(self.state)

    @property
    def key(self) -> tuple[str, tuple[tuple[str, int], ...]]:
        """Return the grouping key: state and (function, line) of each frame."""
        return self.state, tuple((f.function, f.line) for f in self.frames)


@dataclass(frozen=True, slots=True)
class GoroutineDump:
    """A parsed goroutine dump: groups always, single goroutines when the format has them.

    ``format`` is "debug=2", "crash", "debug=1" or "debug=0"; ``truncated`` is set
    when the input stopped mid-dump (Go caps debug=2 at 64 MB) and the groups
    hold what was complete; ``message`` is the crash headline ("panic: ...").
    """

    format: str
    groups: tuple[GoroutineGroup, ...]
    goroutines: tuple[Goroutine, ...] = ()
    truncated: bool = False
    message: str = ""
    #: Lines between goroutine blocks that were not part of one (crash output's
    #: register dumps, junk from a log pipeline) and blocks whose header or
    #: stack could not be read: reported, so nothing is dropped silently.
    skipped_lines: int = 0
    skipped_blocks: int = 0

    @property
    def total(self) -> int:
        """Return the number of goroutines in the dump."""
        return sum(g.count for g in self.groups)


def group_goroutines(goroutines: Iterable[Goroutine]) -> tuple[GoroutineGroup, ...]:
    """Group goroutines by (state, function+line stack); biggest groups first.

    Ties keep the order of first appearance so output is deterministic. A
    group's labels are those all its members share.
    """
    buckets: dict[tuple[str, tuple[tuple[str, int], ...]], list[Goroutine]] = {}
    for g in goroutines:
        key = (g.state, tuple((f.function, f.line) for f in g.frames))
        buckets.setdefault(key, []).append(g)
    groups = []
    for members in buckets.values():
        first = members[0]
        # The runtime prints minutes only past the first one: if any member
        # shows minutes, the others have waited less, i.e. 0 whole minutes.
        minutes = [g.wait_minutes for g in members if g.wait_minutes is not None]
        if minutes and len(minutes) < len(members):
            minutes.append(0)
        labels = set(first.labels).intersection(*(g.labels for g in members[1:]))
        creators = {g.creator_id for g in members}
        groups.append(
            GoroutineGroup(
                count=len(members),
                state=first.state,
                frames=first.frames,
                created_by=first.created_by,
                wait_minutes_min=min(minutes) if minutes else None,
                wait_minutes_max=max(minutes) if minutes else None,
                leaked=sum(1 for g in members if g.leaked),
                labels=tuple(p for p in first.labels if p in labels),
                ids=tuple(g.id for g in members),
                creator_id=creators.pop() if len(creators) == 1 else None,
            )
        )
    groups.sort(key=lambda grp: -grp.count)
    return tuple(groups)
