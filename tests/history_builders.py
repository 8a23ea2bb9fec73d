"""Synthetic long histories: snapshots with exact MemStats and a small Go-shaped heap profile.

Real recorded sessions last seconds; the multi-window judgement and the
bounded history need days. These builders make a snapshot per interval from
a function of time (live bytes per site), encoded as real pprof protobufs and
decoded by the real decoder, so the whole fold runs as it does on a target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

import numpy as np

from leakhunter.collect.session import SnapshotRecord
from leakhunter.collect.snapshot import MemorySnapshot
from leakhunter.formats.pprof import encode
from leakhunter.model.profile import Function, Line, Location, Sample, ValueType, make_profile

APP = "example.com/svc/store"
SITES = ("(*Cache).Put", "(*Server).handle", "decodeRequest")
TYPES = (
    ValueType("alloc_objects", "count"),
    ValueType("alloc_space", "bytes"),
    ValueType("inuse_objects", "count"),
    ValueType("inuse_space", "bytes"),
)
_NAMES = (
    ("runtime.mallocgc", "/usr/local/go/src/runtime/malloc.go"),
    *((f"{APP}.{name}", "/src/svc/store/store.go") for name in SITES),
    ("main.main", "/src/svc/main.go"),
)
FUNCS = tuple(Function(i + 1, n, n, f) for i, (n, f) in enumerate(_NAMES))
LOCS = tuple(
    Location(i + 1, address=0x1000 + 16 * i, lines=(Line(i + 1, 10 + i),))
    for i in range(len(FUNCS))
)


def heap_profile(
    inuse: Mapping[str, float],
    alloc_total: float,
    object_size: int = 1024,
    stray: Mapping[str, int] | None = None,
) -> bytes:
    """Encode a heap profile whose sites hold these live bytes (objects of ``object_size``).

    ``stray`` adds objects (not bytes) at a site: what one sampled small object does
    to a site's count once the profile scales it up.
    """
    samples = []
    for k, name in enumerate(SITES):
        live = max(0, int(inuse.get(name, 0.0)))
        alloc = int(alloc_total / len(SITES)) + live
        stack = (1, k + 2, len(FUNCS))  # mallocgc <- site <- main.main
        more = (stray or {}).get(name, 0)
        counts = (alloc // object_size + more, alloc, live // object_size + more, live)
        samples.append(Sample(stack, counts))
    p = make_profile(
        TYPES,
        samples,
        locations=LOCS,
        functions=FUNCS,
        period_type=ValueType("space", "bytes"),
        period=512 * 1024,
    )
    return encode(p)


def snapshots(
    sites: Callable[[float], Mapping[str, float]],
    *,
    count: int,
    interval: float = 60.0,
    noise: float = 0.0,
    seed: int = 1,
    alloc_rate: float = 1 << 20,
    other: float | Callable[[float], float] = 64 << 20,
    fds: Callable[[float], float] | None = None,
    max_fds: int = 1024,
    memory_limit: int | None = None,
    object_size: int = 1024,
    stray: Callable[[float], Mapping[str, int]] | None = None,
) -> Iterator[MemorySnapshot]:
    """Yield ``count`` snapshots, one per interval; live bytes per site from ``sites(t)``.

    ``noise`` adds that much Gaussian spread to every site (and so to the
    exact heap, which is the sites plus ``other`` bytes the profile does not
    attribute).
    """
    rng = np.random.default_rng(seed)
    for seq in range(count):
        t = seq * interval
        live = {k: max(0.0, v + rng.normal(0, noise)) for k, v in sites(t).items()}
        total_alloc = alloc_rate * t + sum(live.values())
        heap = (other(t) if callable(other) else other) + sum(live.values())
        unseen = other(t) if callable(other) else other
        stats = {
            "HeapAlloc": int(heap),
            "HeapObjects": int(heap // 1024),
            "TotalAlloc": int(total_alloc + unseen),
            "StackInuse": 1 << 20,
            "HeapInuse": int(heap * 1.1),
            "Sys": int(heap * 1.5),
            "HeapReleased": int(heap * 0.2),
            "NumGC": seq + 1,
        }
        rec = SnapshotRecord(
            seq=seq,
            time=1.7e9 + t,
            elapsed=t,
            memstats=MappingProxyType(stats),
            goroutines=10,
            files=MappingProxyType({"heap": f"{seq:06d}.heap.pb.gz"}),
            process=MappingProxyType(_process(t, heap, fds, max_fds, memory_limit)),
            process_source="procfs" if fds is not None else "",
        )
        yield MemorySnapshot(
            rec,
            MappingProxyType(
                {"heap": heap_profile(live, total_alloc, object_size, stray(t) if stray else None)}
            ),
        )


def _process(
    t: float, heap: float, fds: Callable[[float], float] | None, max_fds: int, limit: int | None
) -> dict[str, int]:
    """What /proc would say: descriptors, limits and a resident set above the heap."""
    if fds is None:
        return {}
    out = {"open_fds": int(fds(t)), "max_fds": max_fds, "rss": int(heap * 1.4)}
    if limit is not None:
        out["memory_limit"] = limit
    return out
