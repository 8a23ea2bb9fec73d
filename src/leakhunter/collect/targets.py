"""What the watch loop learns about a target: its base URL, restarts, goroutine groups, limit.

These are small pure functions over one snapshot's answers, kept apart from the
loop so each rule (what counts as a restart, when a group "grew") is testable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import urlsplit, urlunsplit

from leakhunter.collect.session import clean_guards
from leakhunter.errors import UsageError
from leakhunter.formats.memstats import MemStats

__all__ = [
    "local_port",
    "GroupCounts",
    "group_counts",
    "grown",
    "is_restart",
    "parse_gomemlimit",
    "parse_vars",
    "target_base",
    "trim_dump",
]

_MAX_INT64 = (1 << 63) - 1

#: Goroutine count per stack, a stack being (function, line) pairs, leaf first.
GroupCounts = Mapping[tuple[tuple[str, int], ...], int]


def target_base(url: str) -> str:
    """Return the target's base URL (scheme://host:port) from any pprof URL form."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if not parts.netloc:
        raise UsageError(f"not a target URL: {url!r}")
    path = parts.path
    cut = path.find("/debug/")
    path = (path[:cut] if cut >= 0 else path).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def local_port(base: str) -> int | None:
    """Return the port of a target on this host (loopback or a local name), else None."""
    parts = urlsplit(base)
    host = (parts.hostname or "").lower()
    if host not in ("localhost", "::1") and not host.startswith("127."):
        return None
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


def is_restart(prev: MemStats, cur: MemStats, *, forced: bool = True) -> bool:
    """Return True when cur cannot come from the same process as prev.

    In one process NumGC, NumForcedGC and TotalAlloc never decrease. When cur
    was read after a GC of its own (``heap?gc=1``, ``forced``), NumForcedGC has
    also risen since prev; without one (``gc_every`` > 1) it may stay level, so
    only a fall counts. The watch forces the first GC of every run it sees, so
    prev's count is at least 1 and a restarted process shows less (0 until
    something forces a GC in it).
    """
    if cur.num_gc < prev.num_gc or cur.total_alloc < prev.total_alloc:
        return True
    if prev.num_forced_gc <= 0:
        return False
    if forced:
        return cur.num_forced_gc <= prev.num_forced_gc
    return cur.num_forced_gc < prev.num_forced_gc


def group_counts(data: bytes, source: str = "goroutine") -> GroupCounts:
    """Return goroutine counts per stack (function, line pairs; leaf first) of a debug=0 profile."""
    from leakhunter.formats.pprof import decode

    profile = decode(data, source=source)
    names = {f.id: f.name for f in profile.functions}
    frames = {
        loc.id: tuple((names.get(ln.function_id, "?"), ln.line) for ln in loc.lines)
        for loc in profile.locations
    }
    counts: dict[tuple[tuple[str, int], ...], int] = {}
    column = profile.column(0).tolist()
    for i, stack_index in enumerate(profile.sample_stack.tolist()):
        key = tuple(fr for loc in profile.stacks.get(stack_index) for fr in frames.get(loc, ()))
        counts[key] = counts.get(key, 0) + int(column[i])
    return MappingProxyType(counts)


def grown(now: GroupCounts, then: GroupCounts, threshold: int) -> bool:
    """Return True when some group has more than ``threshold`` goroutines more than then."""
    return any(count - then.get(key, 0) > threshold for key, count in now.items())


def trim_dump(data: bytes) -> bytes:
    """Cut a truncated debug=2 dump back to its last complete goroutine."""
    cut = data.rfind(b"\n\n")
    return data[: cut + 1] if cut > 0 else b""


def parse_gomemlimit(body: bytes) -> int | None:
    """Return expvar's "gomemlimit" from a /debug/vars body; None if absent or MaxInt64."""
    return parse_vars(body)[0]


def parse_vars(body: bytes) -> tuple[int | None, dict[str, dict[str, dict[str, int | str]]]]:
    """Return (gomemlimit, leakhunter guard figures) from a /debug/vars body.

    The limit is None if absent or MaxInt64; the guards ("leakhunter_guards", served
    by the Python agent for named leakhunter.guard buffers and pools) are empty if absent.
    """
    try:
        doc = json.loads(body)
    except ValueError:
        return None, {}
    if not isinstance(doc, dict):
        return None, {}
    value = doc.get("gomemlimit")
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < _MAX_INT64
    return (value if ok else None), clean_guards(doc.get("leakhunter_guards"))
