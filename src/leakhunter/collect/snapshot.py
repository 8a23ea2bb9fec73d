"""What a Source hands the analyser: one snapshot, its record and its profiles.

``SnapshotView`` is the protocol the analyser reads; a snapshot saved in a
session folder (``session.Snapshot``, read from disk on demand) and a
snapshot just taken (``MemorySnapshot``, the bytes as fetched) both satisfy
it, so a live watch feeds the analyser without reading back what it wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from leakhunter.collect.session import SnapshotRecord
from leakhunter.errors import FormatError
from leakhunter.formats.limits import maybe_gunzip
from leakhunter.model import Profile

if TYPE_CHECKING:
    from leakhunter.formats.pprof_view import ProfileView

__all__ = ["MemorySnapshot", "SnapshotView"]


class SnapshotView(Protocol):
    """One snapshot as the analyser and the reports read it."""

    @property
    def record(self) -> SnapshotRecord:
        """The snapshot's record: exact MemStats, counts, files, errors."""
        ...

    def has(self, kind: str) -> bool:
        """Return True when the snapshot holds a profile of that kind."""
        ...

    def name(self, kind: str) -> str:
        """Return where that profile came from, for messages."""
        ...

    def read_bytes(self, kind: str) -> bytes:
        """Return that profile's bytes as stored (gzipped or not)."""
        ...

    def profile(self, kind: str = "heap", *, max_bytes: int | None = None) -> Profile:
        """Decode one protobuf profile."""
        ...

    def profile_view(self, kind: str = "heap") -> ProfileView:
        """Parse one profile for analysis (tables read on demand; see formats.pprof_view)."""
        ...

    def goroutine_text(self, *, max_bytes: int | None = None) -> str | None:
        """Return the debug=2 dump's text, or None when there is none."""
        ...


def decode_profile(data: bytes, source: str, max_bytes: int | None = None) -> Profile:
    """Decode a (gzipped) pprof protobuf; FormatError on bad input."""
    from leakhunter.formats.pprof import decode

    return decode(data, source=source, max_bytes=max_bytes)


def view_profile(data: bytes, source: str) -> ProfileView:
    """Parse a (gzipped) pprof protobuf for analysis; FormatError on bad input."""
    from leakhunter.formats.pprof_view import decode_view

    return decode_view(data, source=source)


def dump_text(data: bytes, source: str, max_bytes: int | None = None) -> str:
    """Return a (gzipped) goroutine dump's text."""
    return maybe_gunzip(data, source, max_bytes).decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class MemorySnapshot:
    """A snapshot held in memory: its record and the profiles' bytes as fetched."""

    record: SnapshotRecord
    blobs: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    origin: str = "memory"

    def has(self, kind: str) -> bool:
        """Return True when the snapshot holds a profile of that kind."""
        return kind in self.blobs

    def name(self, kind: str) -> str:
        """Return a name for that profile (the session file it was saved as, if any)."""
        return f"{self.origin}/{self.record.files.get(kind, kind)}"

    def read_bytes(self, kind: str) -> bytes:
        """Return the bytes of one profile."""
        try:
            return self.blobs[kind]
        except KeyError:
            raise FormatError(self.name(kind), "not in this snapshot") from None

    def profile(self, kind: str = "heap", *, max_bytes: int | None = None) -> Profile:
        """Decode one protobuf profile."""
        return decode_profile(self.read_bytes(kind), self.name(kind), max_bytes)

    def profile_view(self, kind: str = "heap") -> ProfileView:
        """Parse one profile for analysis."""
        return view_profile(self.read_bytes(kind), self.name(kind))

    def goroutine_text(self, *, max_bytes: int | None = None) -> str | None:
        """Return the debug=2 dump's text, or None when there is none."""
        if not self.has("goroutine2"):
            return None
        return dump_text(self.read_bytes("goroutine2"), self.name("goroutine2"), max_bytes)
