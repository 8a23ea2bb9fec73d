"""The profile-kind registry: every endpoint leakhunter takes, in one table.

Collection asks each kind's endpoint, the session folder names its file by the
kind's suffix, analysis and reports decode it with the kind's decoder. Adding
an endpoint is one entry here (and, if it carries a new signal, one fold in
``analyze.reduce``); nothing else lists kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["KINDS", "Cadence", "Decoder", "ProfileKind", "kind"]


class Decoder(StrEnum):
    """How a kind's bytes are read."""

    PPROF = "pprof"  # gzipped pprof protobuf -> formats.pprof.decode
    GOROUTINE_TEXT = "goroutine-text"  # debug=2 text -> formats.goroutine_text.load_dump


class Cadence(StrEnum):
    """How often a watch takes a kind."""

    EVERY = "every"  # every snapshot
    SPARING = "sparing"  # only when it pays (first, last, on growth)
    SERVED = "served"  # every snapshot while the target serves it (404: stop asking)
    ASKED = "asked"  # only when the user asks for it (--allocs)


@dataclass(frozen=True, slots=True)
class ProfileKind:
    """One kind of profile: where it is served, how it is stored and read."""

    name: str
    path: str  # URL path on the target
    query: str  # query string ("" for none)
    suffix: str  # session file name is f"{seq:06d}.{suffix}"
    decoder: Decoder
    cadence: Cadence
    title: str

    @property
    def endpoint(self) -> str:
        """Return path?query, as appended to the target's base URL."""
        return f"{self.path}?{self.query}" if self.query else self.path


_ALL = (
    ProfileKind("heap", "/debug/pprof/heap", "", "heap.pb.gz", Decoder.PPROF, Cadence.EVERY,
                "heap profile (taken right after heap?gc=1&debug=1, so it reflects that GC)"),
    ProfileKind("goroutine", "/debug/pprof/goroutine", "debug=0", "goroutine.pb.gz",
                Decoder.PPROF, Cadence.EVERY, "goroutine counts per stack"),
    ProfileKind("goroutine2", "/debug/pprof/goroutine", "debug=2", "goroutine2.txt.gz",
                Decoder.GOROUTINE_TEXT, Cadence.SPARING,
                "full goroutine dump (wait states and minutes)"),
    ProfileKind("goroutineleak", "/debug/pprof/goroutineleak", "debug=0",
                "goroutineleak.pb.gz", Decoder.PPROF, Cadence.SERVED,
                "goroutines the runtime proved leaked (Go >= 1.26, experiment)"),
    ProfileKind("allocs", "/debug/pprof/allocs", "", "allocs.pb.gz", Decoder.PPROF,
                Cadence.ASKED, "allocation profile"),
)  # fmt: skip

#: Every kind by name, in the order a snapshot takes them.
KINDS: Mapping[str, ProfileKind] = MappingProxyType({k.name: k for k in _ALL})


def kind(name: str) -> ProfileKind:
    """Return the kind of that name (KeyError names the known ones)."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown profile kind {name!r} (known: {', '.join(KINDS)})") from None
