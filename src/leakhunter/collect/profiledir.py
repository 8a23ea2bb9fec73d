"""A folder of profiles an application wrote itself, read as a stream of snapshots.

Services that expose no HTTP endpoint often write profiles on a timer
(``runtime/pprof.WriteHeapProfile``, ``pprof.Lookup("goroutine").WriteTo``) or
per test run (``go test -memprofile``). Such a folder has no session record,
so this module builds one per snapshot:

- Files are recognised by content: a (gzipped) pprof protobuf is a heap
  profile when it has ``inuse_space`` and a goroutine profile when its one
  sample type is a goroutine count; text is a goroutine dump (``debug=2``, or
  counted ``debug=1``). Name hints only split what content cannot: ``leak``
  marks the goroutineleak profile, ``alloc`` (or Go's ``alloc_space`` default
  sample type) an allocs profile. Anything else (CPU, mutex, notes, ...) is
  skipped and counted in a note, as are unreadable files and symlinks that
  lead out of the folder.
- Each profile's time is the protobuf's ``time_nanos``, else a timestamp in
  its name (unix seconds/ms/us/ns, or ``YYYYmmddTHHMMSS``, shifted by the
  zone offset that files carrying both reveal), else its mtime.
- Files are ordered by time; a heap and a goroutine profile written within
  half the usual interval of each other form one snapshot.
- Without MemStats, the whole-heap figures are estimated from the heap
  profile itself (its ``inuse_space``, ``inuse_objects`` and ``alloc_space``
  totals stand for HeapAlloc, HeapObjects and TotalAlloc), and the verdict
  says so. A drop in the allocation total means the application restarted:
  it starts a new epoch.
"""

from __future__ import annotations

import re
import statistics
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from leakhunter.collect.kinds import KINDS, Decoder
from leakhunter.collect.session import SessionInfo, SnapshotRecord
from leakhunter.collect.snapshot import decode_profile, dump_text
from leakhunter.collect.sources import OnSnapshot, SourceResult
from leakhunter.errors import FormatError
from leakhunter.formats.limits import max_bytes_from_env, maybe_gunzip
from leakhunter.model import Profile

if TYPE_CHECKING:
    from leakhunter.formats.pprof_view import ProfileView

__all__ = ["ESTIMATED_NOTE", "FileSnapshot", "ProfileDirSource", "ProfileFile", "name_time"]

#: What the verdict says when the whole-heap figures come from sampled profiles.
ESTIMATED_NOTE = (
    "no exact MemStats in a folder of profiles: the live heap (HeapAlloc), its objects and "
    "the allocation total are estimated from the sampled heap profiles, which reflect the "
    "last GC before each was written (not one leakhunter forced)"
)

_MAX_FILES = 100_000  # entries looked at in one folder
_EXAMPLES = 3  # skipped files named per reason in the note
# Reasons a file is skipped ("bucket: detail"; the note counts per bucket).
_OUTSIDE = "outside the folder"
_UNREADABLE = "unreadable"
_NOT_PROFILE = "not heap or goroutine profiles"
_NOT_READ = "not read"
#: Name words that split kinds content cannot tell apart (keys are registry kinds).
_HINTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"goroutineleak": ("leak",), "allocs": ("alloc",), "heap": ("heap", "inuse", "mem")}
)
assert set(_HINTS) <= set(KINDS)

_ISO = re.compile(
    r"(?<!\d)(20\d\d)-?([01]\d)-?([0-3]\d)[T_ -]?([0-2]\d)[:.-]?([0-5]\d)[:.-]?([0-6]\d)"
    r"(?:[.,](\d{1,9}))?(?!\d)"
)
_DIGITS = re.compile(r"(?<!\d)\d+(?!\d)")
_MAX_ZONE = 14 * 3600.0  # UTC-12 .. UTC+14
_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01, UTC
#: Digits of a unix time in seconds, ms, us and ns -> its scale.
_EPOCH_SCALES: Mapping[int, float] = MappingProxyType({10: 1.0, 13: 1e3, 16: 1e6, 19: 1e9})


def name_time(name: str) -> float | None:
    """Return the unix time a file name carries (ISO-like or epoch digits), or None."""
    m = _ISO.search(name)
    if m is not None:
        y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
        try:
            when = datetime(y, mo, d, h, mi, min(s, 59), tzinfo=UTC).timestamp()
        except ValueError:
            when = None
        if when is not None:
            frac = m.group(7)
            return when + (int(frac) / 10 ** len(frac) if frac else 0.0)
    for digits in _DIGITS.findall(name):
        scale = _EPOCH_SCALES.get(len(digits))
        if scale is not None and _EPOCH_MIN <= int(digits) / scale < _EPOCH_MAX:
            return int(digits) / scale
    return None


def _name_seq(name: str) -> int:
    """Return the last number in a name (a sequence number orders ties), or -1."""
    found = _DIGITS.findall(name)
    return int(found[-1]) if found else -1


@dataclass(frozen=True, slots=True)
class ProfileFile:
    """One recognised file: its kind, time and the figures its record needs."""

    name: str  # relative to the folder
    path: Path  # resolved, inside the folder
    kind: str  # a registry kind
    time: float
    time_from: str  # "profile", "name" or "mtime"
    stamp: float | None = None  # the time its name carries, if any
    text: bool = False  # a text dump (goroutine counts are built from it)
    heap: tuple[int, int, int] | None = None  # inuse_space, inuse_objects, alloc_space
    goroutines: int | None = None


def _heap_totals(p: Profile) -> tuple[int, int, int]:
    idx = {vt.type: i for i, vt in enumerate(p.sample_types)}

    def total(name: str) -> int:
        return p.total(idx[name]) if name in idx else 0

    return total("inuse_space"), total("inuse_objects"), total("alloc_space")


def _hinted(name: str, kind: str) -> bool:
    low = name.lower()
    return any(word in low for word in _HINTS.get(kind, ()))


def classify(name: str, path: Path, data: bytes, mtime: float) -> ProfileFile | str:
    """Recognise one file by content (and name hints); return it, or why it is skipped."""
    try:
        raw = maybe_gunzip(data, name)
    except FormatError as exc:
        return exc.problem
    from leakhunter.formats.goroutine_text import load_dump, sniff

    stamp = name_time(name)
    when, source = (stamp, "name") if stamp is not None else (mtime, "mtime")
    fmt = sniff(raw)
    if fmt in ("debug=1", "debug=2", "crash"):
        try:
            dump = load_dump(raw, name, keep_goroutines=False)
        except FormatError as exc:
            return exc.problem
        # goroutineleak?debug=2 looks like any full dump: only its name tells
        leak = raw.lstrip().startswith(b"goroutineleak") or _hinted(name, "goroutineleak")
        kind = "goroutineleak" if leak else "goroutine" if fmt == "debug=1" else "goroutine2"
        total = sum(g.count for g in dump.groups)
        return ProfileFile(name, path, kind, when, source, stamp, text=True, goroutines=total)
    try:
        p = decode_profile(raw, name)
    except FormatError:
        return "not a profile or goroutine dump"
    if p.time_nanos > 0:
        when, source = p.time_nanos / 1e9, "profile"
    types = [vt.type for vt in p.sample_types]
    if "inuse_space" in types:
        allocs = p.default_sample_type.startswith("alloc") or (
            _hinted(name, "allocs") and not _hinted(name, "heap")
        )
        kind = "allocs" if allocs else "heap"
        return ProfileFile(name, path, kind, when, source, stamp, heap=_heap_totals(p))
    if len(types) == 1 and types[0] in ("goroutine", "goroutineleak"):
        leak = types[0] == "goroutineleak" or _hinted(name, "goroutineleak")
        kind = "goroutineleak" if leak else "goroutine"
        return ProfileFile(name, path, kind, when, source, stamp, goroutines=p.total(0))
    return f"a {'/'.join(types) or 'empty'} profile, neither heap nor goroutine"


@dataclass(frozen=True, slots=True)
class FileSnapshot:
    """One snapshot of a profile folder: its record, and its files read on demand."""

    directory: Path
    record: SnapshotRecord
    paths: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))
    text: frozenset[str] = frozenset()  # kinds whose file is a text dump

    def has(self, kind: str) -> bool:
        """Return True when the snapshot holds a profile of that kind."""
        return kind in self.paths

    def name(self, kind: str) -> str:
        """Return the file's path, for messages."""
        return str(self.paths[kind]) if kind in self.paths else f"{self.directory}/{kind}"

    def read_bytes(self, kind: str) -> bytes:
        """Return the file's bytes as the application wrote them."""
        if kind not in self.paths:
            raise FormatError(self.name(kind), "not in this snapshot")
        try:
            # checked again on every read: the folder may have changed since the scan
            if not self.paths[kind].resolve(strict=True).is_relative_to(self.directory):
                raise FormatError(self.name(kind), "now leads outside the folder")
            return self.paths[kind].read_bytes()
        except OSError as exc:
            raise FormatError(self.name(kind), f"cannot read ({exc.strerror})") from None

    def profile(self, kind: str = "heap", *, max_bytes: int | None = None) -> Profile:
        """Decode one profile; a text dump's goroutine counts are built into one."""
        data = self.read_bytes(kind)
        if kind not in self.text:
            return decode_profile(data, self.name(kind), max_bytes)
        from leakhunter.collect._dump_profile import dump_profile
        from leakhunter.formats.goroutine_text import load_dump

        return dump_profile(load_dump(data, self.name(kind), max_bytes=max_bytes))

    def profile_view(self, kind: str = "heap") -> ProfileView:
        """Parse one profile for analysis; a text dump goes through ``profile`` first."""
        from leakhunter.formats.pprof_view import FullView, decode_view

        if kind in self.text:
            return FullView(self.profile(kind))
        return decode_view(self.read_bytes(kind), source=self.name(kind))

    def goroutine_text(self, *, max_bytes: int | None = None) -> str | None:
        """Return the debug=2 dump's text, or None when there is none."""
        if not self.has("goroutine2"):
            return None
        return dump_text(self.read_bytes("goroutine2"), self.name("goroutine2"), max_bytes)


def group(files: Sequence[ProfileFile]) -> list[list[ProfileFile]]:
    """Split time-ordered files into snapshots: one file per kind, close in time.

    Two files belong together when written within half the usual interval
    between files of one kind (1 s when there is no interval to go by).
    """
    by_kind: dict[str, list[float]] = {}
    for f in files:
        by_kind.setdefault(f.kind, []).append(f.time)
    gaps = [b - a for ts in by_kind.values() for a, b in zip(ts, ts[1:], strict=False) if b > a]
    tolerance = 0.5 * statistics.median(gaps) if gaps else 1.0
    groups: list[list[ProfileFile]] = []
    for f in files:
        cur = groups[-1] if groups else None
        if cur and f.time - cur[0].time <= tolerance and all(g.kind != f.kind for g in cur):
            cur.append(f)
        else:
            groups.append([f])
    return groups


class ProfileDirSource:
    """A folder of heap and goroutine profiles, one snapshot per moment they were written."""

    def __init__(self, directory: str | Path) -> None:
        """Read profiles from directory (scanned on first use)."""
        self.directory = Path(directory)
        self._scan: tuple[tuple[FileSnapshot, ...], tuple[str, ...]] | None = None

    @property
    def target(self) -> str:
        """Return the folder, which stands for the application that wrote it."""
        return str(self.directory)

    def snapshots(self) -> tuple[FileSnapshot, ...]:
        """Return the folder's snapshots in time order (empty: no profile found)."""
        return self.scan()[0]

    def notes(self) -> tuple[str, ...]:
        """Return what the verdict should say about this folder's data."""
        return self.scan()[1]

    def scan(self) -> tuple[tuple[FileSnapshot, ...], tuple[str, ...]]:
        """Recognise, order and group the folder's files (once); return snapshots and notes.

        Raises:
            FormatError: the folder does not exist or cannot be listed.
        """
        if self._scan is None:
            files, skipped = _read_folder(self.directory)
            snaps, notes = _snapshots(self.directory.resolve(), files)
            if skipped:
                notes.append(_skipped_note(skipped))
            self._scan = (tuple(snaps), tuple(notes))
        return self._scan

    def run(self, on_snapshot: OnSnapshot, stop: threading.Event) -> SourceResult:
        """Hand every snapshot on in time order; stop early when stop is set."""
        snaps, notes = self.scan()
        done = 0
        for snap in snaps:
            if stop.is_set():
                break
            on_snapshot(snap)
            done += 1
        started = (
            datetime.fromtimestamp(snaps[0].record.time, UTC).isoformat(timespec="seconds")
            if snaps
            else ""
        )
        return SourceResult(
            done,
            "done" if done == len(snaps) else "interrupted",
            notes,
            SessionInfo(str(self.directory), started),
        )


def _skipped_note(skipped: Sequence[tuple[str, str]]) -> str:
    """Say how many files were skipped and why, links out of the folder first."""
    buckets: dict[str, list[str]] = {}
    for name, why in skipped:
        bucket, _, detail = why.partition(": ")
        buckets.setdefault(bucket, []).append(f"{name}: {detail}" if detail else name)
    parts = []
    for bucket in sorted(buckets, key=lambda b: (b != _OUTSIDE, b != _UNREADABLE)):
        names = buckets[bucket]
        more = f" and {len(names) - _EXAMPLES} more" if len(names) > _EXAMPLES else ""
        parts.append(f"{len(names)} {bucket} ({', '.join(names[:_EXAMPLES])}{more})")
    return f"skipped {len(skipped)} file(s): " + "; ".join(parts)


def _read_folder(directory: Path) -> tuple[list[ProfileFile], list[tuple[str, str]]]:
    """Classify the folder's files; return the recognised ones in time order, and the rest."""
    if not directory.is_dir():
        raise FormatError(str(directory), "no such folder")
    root = directory.resolve()
    cap = max_bytes_from_env()
    files: list[ProfileFile] = []
    skipped: list[tuple[str, str]] = []
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise FormatError(str(directory), f"cannot list ({exc.strerror})") from None
    skipped.extend(
        (e.name, f"{_NOT_READ}: past the first {_MAX_FILES}") for e in entries[_MAX_FILES:]
    )
    entries = entries[:_MAX_FILES]
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue  # temp files of a writer mid-write, editor files
        try:
            real = entry.resolve(strict=True)
            if not real.is_relative_to(root):
                skipped.append((name, _OUTSIDE))
                continue
            if not real.is_file():
                continue
            st = real.stat()
            if st.st_size > cap:
                skipped.append((name, f"{_NOT_READ}: over the {cap}-byte limit"))
                continue
            data = real.read_bytes()
        except OSError:
            skipped.append((name, _UNREADABLE))
            continue
        found = classify(name, real, data, st.st_mtime)
        if isinstance(found, str):
            skipped.append((name, f"{_NOT_PROFILE}: {found}"))
        else:
            files.append(found)
    files = _align_name_times(files)
    files.sort(key=lambda f: (f.time, _name_seq(f.name), f.name))
    return files, skipped


def _align_name_times(files: list[ProfileFile]) -> list[ProfileFile]:
    """Shift times read from names by the zone offset the profiles' own times reveal.

    A name like ``goroutine-20261204T221000.txt`` is usually local time, while
    ``time_nanos`` is UTC: without this, a text dump would pair with nothing.
    The offset is the median difference over files that carry both, rounded
    to a quarter hour (zones are whole quarter hours; write delays are not),
    and only applied when a zone could explain it (at most 14 hours).
    """
    diffs = [f.time - f.stamp for f in files if f.time_from == "profile" and f.stamp is not None]
    if not diffs:
        return files
    offset = round(statistics.median(diffs) / 900.0) * 900.0
    if not offset or abs(offset) > _MAX_ZONE:
        return files  # no zone offset: the names carry other times
    return [replace(f, time=f.time + offset) if f.time_from == "name" else f for f in files]


def _snapshots(root: Path, files: Sequence[ProfileFile]) -> tuple[list[FileSnapshot], list[str]]:
    """Build one record per group of files: estimated heap figures, epochs, counts."""
    snaps: list[FileSnapshot] = []
    notes: list[str] = []
    epoch, last_alloc = 0, -1
    groups = group(files)
    t0 = groups[0][0].time if groups else 0.0
    for seq, members in enumerate(groups):
        chosen = {f.kind: f for f in members}
        if "heap" not in chosen and "allocs" in chosen:
            chosen["heap"] = chosen.pop("allocs")  # Go's allocs profile holds the same data
        heap, counts = chosen.get("heap"), chosen.get("goroutine")
        if counts is None and "goroutine2" in chosen:
            counts = chosen["goroutine"] = chosen["goroutine2"]  # counts from the full dump
        memstats: dict[str, int] = {}
        if heap is not None and heap.heap is not None:
            inuse, objects, alloc = heap.heap
            if alloc < last_alloc:
                epoch += 1
            last_alloc = alloc
            memstats = {"HeapAlloc": inuse, "HeapObjects": objects, "TotalAlloc": alloc}
        when = heap.time if heap is not None else members[0].time
        record = SnapshotRecord(
            seq=seq,
            time=when,
            elapsed=when - t0,
            epoch=epoch,
            memstats=MappingProxyType(memstats),
            goroutines=counts.goroutines if counts is not None else None,
            files=MappingProxyType({k: f.name for k, f in chosen.items()}),
        )
        paths = MappingProxyType({k: f.path for k, f in chosen.items()})
        # a text file standing for a protobuf kind has its counts built into a profile
        text = frozenset(
            k for k, f in chosen.items() if f.text and KINDS[k].decoder is Decoder.PPROF
        )
        snaps.append(FileSnapshot(root, record, paths, text))
    if any(s.record.memstats for s in snaps):
        notes.append(ESTIMATED_NOTE)
    guessed = sum(1 for f in files if f.time_from == "mtime")
    if guessed:
        notes.append(f"{guessed} profile time(s) taken from file modification times")
    return snaps, notes
