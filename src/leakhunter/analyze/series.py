"""Stream a session's snapshots into per-site series, one snapshot in memory at a time.

Each heap profile is reduced to inuse bytes/objects and alloc bytes per *site*
(stacks grouped by their culprit frame), each goroutine profile to counts per
*group* (identical function+line stacks). Stacks are keyed across snapshots by
their location addresses (stable within one process), so the frame walk and
culprit search run once per distinct stack, not once per snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.frames import AppMatcher, culprit, first_interesting
from leakhunter.formats.pprof_view import ProfileView, frames_of
from leakhunter.model.goroutine import Frame
from leakhunter.model.profile import Function, Location, Profile

__all__ = [
    "SeriesTable",
    "StackResolver",
    "group_key",
    "location_frames",
    "profile_frames",
    "site_key",
]

_MAX_CACHED = 200_000
_RECENT = 4


def profile_frames(profile: Profile) -> list[tuple[Frame, ...]]:
    """Return, per location (in profile.locations order), its frames innermost first."""
    funcs = {f.id: f for f in profile.functions}
    return [location_frames(loc, funcs) for loc in profile.locations]


def location_frames(loc: Location, funcs: Mapping[int, Function]) -> tuple[Frame, ...]:
    """Return one location's frames, innermost first (its address when it has no lines)."""
    frames = []
    for ln in loc.lines:
        f = funcs.get(ln.function_id)
        if f is not None:
            frames.append(Frame(f.name, f.filename, ln.line))
    if not frames:
        frames.append(Frame(f"0x{loc.address:x}" if loc.address else "<unknown>"))
    return tuple(frames)


@dataclass(frozen=True, slots=True)
class SeriesTable:
    """One table of a window: values per key over the window's points.

    Cells are 0 where the key was absent from a snapshot that collected the
    table, NaN where the table itself was not collected.
    """

    rows: Mapping[str, npt.NDArray[np.float64]] = field(default_factory=dict)

    def array(self, key: str) -> npt.NDArray[np.float64]:
        """Return one row."""
        return self.rows[key]


@dataclass(slots=True)
class _StackInfo:
    site: str
    frames: tuple[Frame, ...]
    #: the app functions on frames, filled in by the fold on first use (a cache)
    app: tuple[str, ...] | None = None


class StackResolver:
    """Maps stacks of successive profiles to stable keys, caching per address sequence."""

    def __init__(
        self,
        key_of: Callable[[tuple[Frame, ...]], str],
        observe: Callable[[tuple[Frame, ...]], None] | None = None,
    ) -> None:
        self._key_of = key_of
        self._observe = observe
        self._cache: dict[bytes, _StackInfo] = {}
        self.max_cached = _MAX_CACHED
        # Frames of address-less locations, numbered for good: the cache keys
        # must mean the same stack in every profile of the series.
        self._frame_ids: dict[tuple[Frame, ...], int] = {}
        # The last few profiles' stack sets and what they resolved to: a steady
        # service serves the same stacks snapshot after snapshot.
        self._recent: dict[bytes, list[_StackInfo]] = {}

    def resolve(self, profile: ProfileView) -> list[_StackInfo]:
        """Return the key and frames of every interned stack of profile."""
        addrs = profile.location_addresses()
        by_address = bool(addrs.size) and bool((addrs != 0).all()) and _distinct(addrs)
        ids = profile.location_ids()
        order = np.argsort(ids)
        stacks = profile.stacks
        if ids.size and stacks.location_ids.size:
            loc_index = order[np.searchsorted(ids[order], stacks.location_ids)]
        else:
            loc_index = np.zeros(0, np.int64)
        if by_address:
            keyed = addrs[loc_index]
        else:
            # No stable addresses (the Python agent): key locations by their frames,
            # numbered across the whole series. (Numbering them per profile made
            # a stack of one snapshot hit the cached stack of another whose
            # frames happened to get the same numbers: sites swapped names.)
            known = self._frame_ids
            numbers = np.fromiter(
                (known.setdefault(fr, len(known)) for fr in frames_of(profile)),
                np.uint64,
                len(ids),
            )
            keyed = numbers[loc_index]
        if len(self._cache) > self.max_cached:
            # a cache, not state: stacks that churn for weeks must not grow it forever
            self._cache.clear()
            self._frame_ids.clear()
            self._recent.clear()
            return self.resolve(profile)
        raw = keyed.tobytes()
        whole = len(raw).to_bytes(8, "little") + raw + stacks.offsets.tobytes()
        seen = self._recent.get(whole)
        if seen is not None:
            return seen
        out = self._resolve_stacks(profile, raw, loc_index)
        if len(self._recent) >= _RECENT:
            self._recent.clear()
        self._recent[whole] = out
        return out

    def _resolve_stacks(
        self, profile: ProfileView, raw: bytes, loc_index: npt.NDArray[np.int64]
    ) -> list[_StackInfo]:
        """Look every stack up by its keyed bytes, resolving the ones never seen."""
        stacks = profile.stacks
        offs = (stacks.offsets * 8).tolist()
        out: list[_StackInfo] = []
        for s in range(len(stacks)):
            k = raw[offs[s] : offs[s + 1]]
            info = self._cache.get(k)
            if info is None:
                li = loc_index[stacks.offsets[s] : stacks.offsets[s + 1]].tolist()
                frames = tuple(fr for i in li for fr in profile.location_frames(i))
                info = self._cache[k] = _StackInfo(self._key_of(frames), frames)
                if self._observe is not None:
                    self._observe(frames)
            out.append(info)
        return out


def _distinct(a: npt.NDArray[np.uint64]) -> bool:
    """Return True when no value repeats (a sort, without np.unique's bookkeeping)."""
    s = np.sort(a)
    return bool((s[1:] != s[:-1]).all())


def site_key(matcher: AppMatcher) -> Callable[[tuple[Frame, ...]], str]:
    """Key heap stacks by culprit function (or the first interesting frame)."""

    def key(frames: tuple[Frame, ...]) -> str:
        c = culprit(frames, matcher)
        if c is not None:
            return c.function
        f = first_interesting(frames, matcher)
        return f"~{f.function}" if f else "~<empty>"

    return key


def group_key(frames: Sequence[Frame]) -> str:
    """Key goroutine stacks by function+line of every frame (arguments never enter).

    Leading runtime frames (gopark, chanrecv...) are left out: debug=2 tracebacks
    hide them while debug=0 profiles show them, and the same group must get the
    same key from both. The wait state is kept separately.
    """
    i = 0
    while i < len(frames) - 1 and frames[i].function.startswith("runtime."):
        i += 1
    return "|".join(f"{f.function}:{f.line}" for f in frames[i:] if f.function != "runtime.goexit")
