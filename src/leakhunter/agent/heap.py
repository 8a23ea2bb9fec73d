"""Live-memory figures of a Python process: the type census, tracemalloc, exact totals.

The census is the cheap always-on mode: at scrape time it walks ``gc.get_objects()``
and their untracked direct referents (strings, bytes, numbers held by containers),
summing ``sys.getsizeof`` per type; nothing runs between scrapes. Its total is the
``HeapAlloc`` the watch loop judges. The tracing mode reads tracemalloc snapshots:
live bytes per allocation traceback, leaf first.
"""

from __future__ import annotations

import _tracemalloc
import ctypes
import gc
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import filterfalse, groupby
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from leakhunter.agent._names import Namer
from leakhunter.model.goroutine import Frame

__all__ = ["Allocator", "Census", "Site", "census", "process_rss", "traced_sites", "type_frame"]

_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
_TB = itemgetter(2)
_SIZE = itemgetter(1)


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
    taken_ns: int = 0  # wall clock (time.time_ns) when it was taken


def _reachable_untracked(objects: list[object]) -> list[object]:
    """Return the objects GC does not track that tracked ones hold (directly or via untracked).

    Untracked containers (a dict of only strings and bytes is untracked) are opened
    in turn, so a cache dict's values count. C-level passes only: no Python loop per object.
    """
    found: dict[int, object] = {}
    frontier = objects
    for _ in range(8):
        untracked = list(filterfalse(gc.is_tracked, gc.get_referents(*frontier)))
        batch = dict(zip(map(id, untracked), untracked, strict=True))
        del untracked
        for key in found.keys() & batch.keys():
            del batch[key]
        if not batch:
            break
        found.update(batch)
        frontier = [o for o in batch.values() if type(o) in _CONTAINERS]
        if not frontier:
            break
    return list(found.values())


_CONTAINERS = (dict, tuple, list, set, frozenset)


def census(sample: int = 4096) -> Census:
    """Count live objects per type (GC-tracked ones and what they hold); estimate their bytes.

    Counting runs in C over every object; sizes are measured on an evenly spaced
    sample of about ``sample`` objects and scaled by each type's count (types the
    sample missed count at their basic size), keeping a census near 1 us/object.
    """
    taken = time.time_ns()
    objects = gc.get_objects()
    objects += _reachable_untracked(objects)
    counts = Counter(map(type, objects))
    step = max(1, len(objects) // sample)
    sizes: dict[type, list[int]] = {}
    for obj in objects[::step]:
        sizes.setdefault(type(obj), []).append(_sizeof(obj))
    total_objects = len(objects)
    del objects
    by_type = {}
    for kind, n in counts.items():
        seen = sizes.get(kind)
        each = sum(seen) / len(seen) if seen else getattr(kind, "__basicsize__", 16)
        by_type[kind] = (n, int(n * each))
    total_bytes = sum(b for _, b in by_type.values())
    return Census(MappingProxyType(by_type), total_objects, total_bytes, taken)


def _sizeof(obj: object) -> int:
    try:
        return sys.getsizeof(obj)
    except Exception:  # a broken __sizeof__ must not break the scrape
        return 16


def type_frame(kind: type, namer: Namer) -> Frame:
    """Return the census 'frame' of a type: ``module.Qualname`` at its module's file."""
    module = getattr(kind, "__module__", "builtins") or "builtins"
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None) if mod is not None else None
    name = f"{module}.{getattr(kind, '__qualname__', kind.__name__)}"
    if isinstance(path, str) and module == "__main__":
        name = f"{namer.module_of(path)}.{kind.__qualname__}"
    return Frame(name, path if isinstance(path, str) else "", 0)


def _raw_traces() -> list[tuple[int, int, tuple[tuple[str, int], ...], int]]:
    """Return tracemalloc's raw traces (domain, size, traceback leaf first, depth).

    ``_get_traces`` is what ``take_snapshot`` wraps (private, stable since 3.4);
    grouping its plain tuples is ~10x cheaper than ``Snapshot.statistics``.
    """
    get = getattr(_tracemalloc, "_get_traces", None)
    if get is not None:
        raw: list[tuple[int, int, tuple[tuple[str, int], ...], int]] = get()
        return raw
    import tracemalloc  # the Python module (pickle and more): only on this fallback

    snap = tracemalloc.take_snapshot()
    return [
        (t.domain, t.size, tuple((f.filename, f.lineno) for f in reversed(t.traceback)), 0)
        for t in snap.traces
    ]


def traced_sites(namer: Namer) -> tuple[Site, ...]:
    """Return live memory per allocation traceback from tracemalloc (the agent's own dropped)."""
    # Sort-and-group runs in C: a Python loop per trace would allocate per trace,
    # and every allocation is itself traced (slow) while tracemalloc is on.
    raw = _raw_traces()
    raw.sort(key=_TB)
    groups: dict[tuple[tuple[str, int], ...], tuple[int, int]] = {}
    for tb, members in groupby(raw, key=_TB):
        sizes = list(map(_SIZE, members))
        groups[tb] = (len(sizes), sum(sizes))
    del raw
    sites = []
    for tb, (count, size) in groups.items():
        # the agent's own memory (its caches, linecache lines it read) is not the app's
        if any(f.startswith(_AGENT_DIR) for f, _ in tb):
            continue
        sites.append(Site(tuple(namer.line_frame(f, n) for f, n in tb), count, size))
    return tuple(sites)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


class Allocator:
    """Exact-enough live bytes from the allocators, in O(arenas): no walk over objects.

    ``malloc`` bytes in use come from glibc's ``mallinfo2`` (every arena plus mmapped
    chunks: objects over 512 B, C extensions); small objects live in pymalloc's
    arenas, counted by ``sys.getallocatedblocks()`` at a nominal ``BLOCK`` bytes each
    (the count is exact, the size nominal: trends are what the judge reads).
    ``available`` is False off glibc; callers then fall back to the census.
    """

    BLOCK = 64

    def __init__(self) -> None:
        self._fn: Any = None
        try:
            libc = ctypes.CDLL(None)
            fn = libc.mallinfo2
            fn.restype = _MallInfo2
            fn.argtypes = []
            self._fn = fn
        except (OSError, AttributeError):
            self._fn = None

    @property
    def available(self) -> bool:
        """Return True when mallinfo2 is there (glibc >= 2.33)."""
        return self._fn is not None

    def live_bytes(self) -> int:
        """Return malloc'd bytes in use plus pymalloc blocks in use times BLOCK."""
        info = self._fn() if self._fn is not None else None
        malloced = int(info.uordblks + info.hblkhd) if info is not None else 0
        return malloced + sys.getallocatedblocks() * self.BLOCK


def process_rss() -> int:
    """Return the resident set size in bytes (/proc/self/statm, else the peak from getrusage)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
