"""Live-memory figures of a Python process: the type census, tracemalloc, exact totals.

The census is the cheap always-on mode: at scrape time it walks ``gc.get_objects()``
and their untracked direct referents (strings, bytes, numbers held by containers),
summing ``sys.getsizeof`` per type; nothing runs between scrapes. Its total is the
``HeapAlloc`` the watch loop judges. The tracing mode reads tracemalloc snapshots:
live bytes per allocation traceback, leaf first.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import tracemalloc
from dataclasses import dataclass, field
from types import MappingProxyType

from leakhunter.agent._names import Namer
from leakhunter.model.goroutine import Frame

__all__ = ["Census", "Site", "census", "process_rss", "traced_sites", "type_frame"]

_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True, slots=True)
class Site:
    """Live objects and bytes at one allocation site (a type, or a traceback leaf first)."""

    frames: tuple[Frame, ...]
    objects: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Census:
    """Live objects per type at one instant; ``total_bytes`` is the judged heap figure."""

    by_type: MappingProxyType[type, tuple[int, int]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    total_objects: int = 0
    total_bytes: int = 0


def census() -> Census:
    """Count live objects and bytes per type (GC-tracked ones and what they hold directly)."""
    objects = gc.get_objects()
    seen: set[int] = set()
    counts: dict[type, list[int]] = {}
    sizeof = sys.getsizeof
    is_tracked = gc.is_tracked

    def add(obj: object) -> None:
        kind = type(obj)
        slot = counts.get(kind)
        if slot is None:
            slot = counts[kind] = [0, 0]
        slot[0] += 1
        try:
            slot[1] += sizeof(obj)
        except Exception:  # a broken __sizeof__ must not break the scrape
            slot[1] += 16

    for obj in objects:
        add(obj)
        for ref in gc.get_referents(obj):
            if not is_tracked(ref):
                key = id(ref)
                if key not in seen:
                    seen.add(key)
                    add(ref)
    del objects
    frozen = {k: (v[0], v[1]) for k, v in counts.items()}
    return Census(
        MappingProxyType(frozen),
        sum(v[0] for v in frozen.values()),
        sum(v[1] for v in frozen.values()),
    )


def type_frame(kind: type, namer: Namer) -> Frame:
    """Return the census 'frame' of a type: ``module.Qualname`` at its module's file."""
    module = getattr(kind, "__module__", "builtins") or "builtins"
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None) if mod is not None else None
    name = f"{module}.{getattr(kind, '__qualname__', kind.__name__)}"
    if isinstance(path, str) and module == "__main__":
        name = f"{namer.module_of(path)}.{kind.__qualname__}"
    return Frame(name, path if isinstance(path, str) else "", 0)


def traced_sites(namer: Namer, snapshot: tracemalloc.Snapshot) -> tuple[Site, ...]:
    """Return live memory per traceback of a tracemalloc snapshot (agent frames dropped)."""
    snapshot = snapshot.filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, os.path.join(_AGENT_DIR, "*")),
        )
    )
    sites = []
    for stat in snapshot.statistics("traceback"):
        frames = tuple(namer.line_frame(f.filename, f.lineno) for f in reversed(stat.traceback))
        sites.append(Site(frames, stat.count, stat.size))
    return tuple(sites)


def process_rss() -> int:
    """Return the resident set size in bytes (/proc/self/statm, else the peak from getrusage)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
