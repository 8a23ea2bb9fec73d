"""The named guards of this process, held weakly, for metrics and the agent's /debug/vars.

A buffer or pool made with a name registers itself here; it leaves when it is
garbage collected (the registry never keeps one alive). Readers take a
snapshot of the figures of every live guard at the moment they ask.
"""

from __future__ import annotations

import threading
import weakref
from typing import Protocol

__all__ = ["Guard", "figures", "guards", "register"]


class Guard(Protocol):
    """What the registry holds: a named thing with figures."""

    name: str

    def stats(self) -> object:
        """Return the guard's figures now."""
        ...


_GUARDS: weakref.WeakSet[Guard] = weakref.WeakSet()
_LOCK = threading.Lock()


def register(guard: Guard) -> None:
    """List ``guard`` (until it is garbage collected)."""
    with _LOCK:
        _GUARDS.add(guard)


def guards() -> list[Guard]:
    """Return the live registered guards, ordered by name."""
    with _LOCK:
        found = list(_GUARDS)
    return sorted(found, key=lambda g: g.name)


def figures() -> dict[str, dict[str, dict[str, int | str]]]:
    """Return every named guard's figures as JSON-ready dicts (the agent's /debug/vars shape).

    ``{"buffers": {name: {...}}, "pools": {name: {...}}}``: integer counters and
    sizes as the stats dataclasses name them, plus a buffer's ``policy``. Two
    guards of one name are summed, so a name can stand for a group (one buffer
    per partition, say; a pool's ``capacity``, bytes per buffer, is their largest).
    """
    out: dict[str, dict[str, dict[str, int | str]]] = {"buffers": {}, "pools": {}}
    for guard in guards():
        stats = guard.stats()
        fields = {k: getattr(stats, k) for k in getattr(stats, "__slots__", ())}
        kind = "buffers" if "policy" in fields else "pools"
        row = out[kind].setdefault(guard.name, {})
        for key, value in fields.items():
            if key == "name":
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                before = row.get(key, 0)
                before = before if isinstance(before, int) else 0
                # a pool's capacity is bytes per buffer: the same for the group, not a sum
                row[key] = (
                    max(before, value) if (kind, key) == ("pools", "capacity") else (before + value)
                )
            elif isinstance(value, str):
                row[key] = value
    return out
