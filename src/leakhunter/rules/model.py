"""The rule model: a named leak pattern, its match conditions, and how specific they are.

A rule has one or more ``when`` blocks; it matches a finding when every
condition of at least one block holds. The *specificity* of a match is the sum
of the weights of the conditions in the matching block (``WEIGHTS``), so a rule
that names the exact library frame outranks one that only names a wait state,
which outranks a generic rule that only names the finding's kind. Ties go to
the block with more conditions, then to user rules over builtin ones, then to
the smaller id: the winner never depends on file order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from leakhunter.analyze.facts import Shape

__all__ = [
    "ALLOC_VALUES",
    "KINDS",
    "OBJECT_VALUES",
    "ORIGINS",
    "SHAPES",
    "WAIT_CLASSES",
    "WEIGHTS",
    "Conditions",
    "Rule",
    "SessionGroup",
    "Shape",
]


KINDS = ("heap", "goroutine", "churn", "fd")
WAIT_CLASSES = ("channel", "select", "sync", "io", "sleep", "syscall", "running", "other")
SHAPES = tuple(s.value for s in Shape)
ALLOC_VALUES = ("churn", "retained")
OBJECT_VALUES = ("flat", "growing")
OBJECT_SIZE_VALUES = ("flat", "growing")
RUNTIMES = ("go", "python")
ORIGINS = ("app", "stdlib", "third-party", "runtime")

#: Weight of each condition in a block's specificity. Frame regexes weigh the
#: most (they name code), the created-by and leaf frames more than "anywhere in
#: the stack"; facts every finding of a kind shares (kind, shape) weigh least.
WEIGHTS: dict[str, int] = {
    "kind": 1,
    "shape": 1,
    "leaf_origin": 1,
    "culprit_origin": 1,
    "not_stack": 1,
    "wait": 2,
    "alloc": 2,
    "objects": 2,
    "object_size": 2,
    "min_object_bytes": 2,
    "leaked": 2,
    "state": 3,
    "library": 3,
    "stack": 4,  # per regex
    "culprit": 5,
    "leaf": 5,
    "created_by": 5,
    "created_in": 5,
    "session": 6,
}


@dataclass(frozen=True, slots=True)
class SessionGroup:
    """A goroutine group that must exist somewhere in the session (not only in the finding).

    Every ``stack`` regex must match a frame of the same group; ``wait`` lists the
    wait classes the group may be in; ``min_count`` is the least number of
    goroutines it must have held at some snapshot.
    """

    stack: tuple[re.Pattern[str], ...] = ()
    wait: tuple[str, ...] = ()
    min_count: int = 1


@dataclass(frozen=True, slots=True)
class Conditions:
    """One ``when`` block: every condition that is set must hold.

    ``stack`` regexes must each match some frame; ``not_stack`` regexes must
    match none. ``leaf`` is the innermost frame outside the runtime and
    ``internal/`` packages; ``created_in`` matches the frames found below the
    goroutines' creator function on any stack of the session (e.g. a gin handler
    chain). ``library`` holds when any listed module or package path is present
    in the session. ``leaked`` needs the goroutineleak profile: True when it marked
    the finding's goroutines, False when it was collected and did not.
    """

    kind: tuple[str, ...] = ()
    stack: tuple[re.Pattern[str], ...] = ()
    not_stack: tuple[re.Pattern[str], ...] = ()
    leaf: re.Pattern[str] | None = None
    culprit: re.Pattern[str] | None = None
    created_by: re.Pattern[str] | None = None
    created_in: re.Pattern[str] | None = None
    leaf_origin: tuple[str, ...] = ()
    culprit_origin: tuple[str, ...] = ()
    wait: tuple[str, ...] = ()
    state: re.Pattern[str] | None = None
    shape: tuple[str, ...] = ()
    alloc: str | None = None
    objects: str | None = None
    object_size: str | None = None
    min_object_bytes: int | None = None
    leaked: bool | None = None
    library: tuple[str, ...] = ()
    session: SessionGroup | None = None
    line: int = 0  # where the block starts in its file (0: unknown)

    def names(self) -> tuple[str, ...]:
        """Return the names of the conditions this block sets, in WEIGHTS order."""
        return tuple(name for name in WEIGHTS if _is_set(getattr(self, name)))

    def describe(self) -> tuple[str, ...]:
        """Return one human-readable line per condition (for ``rules show``)."""
        out = []
        for name in self.names():
            value = getattr(self, name)
            if isinstance(value, re.Pattern):
                text = f"/{value.pattern}/"
            elif isinstance(value, SessionGroup):
                regexes = " and ".join(f"/{p.pattern}/" for p in value.stack)
                waits = f" in {'/'.join(value.wait)}" if value.wait else ""
                text = f"a goroutine group with frames {regexes}{waits}, >= {value.min_count}"
            elif isinstance(value, tuple):
                parts = [f"/{v.pattern}/" if isinstance(v, re.Pattern) else str(v) for v in value]
                text = (" and " if name in ("stack", "not_stack") else " | ").join(parts)
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
            out.append(f"{_LABELS.get(name, name)}: {text}")
        return tuple(out)

    def specificity(self) -> int:
        """Return the sum of the weights of the conditions this block sets."""
        total = 0
        for name in self.names():
            weight = WEIGHTS[name]
            total += weight * len(self.stack) if name == "stack" else weight
        return total


_LABELS = {
    "stack": "frames anywhere",
    "not_stack": "no frame",
    "created_in": "creator runs under",
    "session": "session has",
    "library": "library present",
}


def _is_set(value: object) -> bool:
    if value is None:
        return False
    return not (isinstance(value, tuple) and not value)


@dataclass(frozen=True, slots=True)
class Rule:
    """A named leak pattern: what it means, why it leaks, how to fix it, when it applies."""

    id: str
    title: str
    explanation: str
    fix: str
    when: tuple[Conditions, ...]
    sketch: str = ""
    confidence: float = 0.0  # added to a matched finding's confidence, clamped to 0..1
    references: tuple[str, ...] = ()
    runtime: str | None = None  # "go" / "python": only findings of that runtime (None: any)
    source: str = ""  # file the rule was loaded from
    line: int = 0
    builtin: bool = True

    @property
    def generic(self) -> bool:
        """Return True for rules that only describe a kind of finding (lowest specificity)."""
        return max((c.specificity() for c in self.when), default=0) <= (
            WEIGHTS["kind"] + WEIGHTS["wait"]
        )
