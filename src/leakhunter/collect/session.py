"""The session directory: crash-safe writing and lazy reading of a watch's snapshots.

Layout (schema ``leakhunter.session/1``; NNNNNN is the zero-padded snapshot seq)::

    SESSION/manifest.json                {"schema": "leakhunter.session/1", "target": URL,
                                          "started": ISO8601, "options": {...},
                                          "tool_version": "0.1.0"}
    SESSION/NNNNNN.heap.pb.gz            heap protobuf as served, fetched right AFTER
                                         heap?gc=1&debug=1 so it reflects that GC (with
                                         gc_forced false: the last completed GC)
    SESSION/NNNNNN.goroutine.pb.gz       goroutine?debug=0 protobuf
    SESSION/NNNNNN.goroutine2.txt.gz     goroutine?debug=2 dump, gzipped; only some snapshots
    SESSION/NNNNNN.goroutineleak.pb.gz   goroutineleak?debug=0, when the target serves it
    SESSION/NNNNNN.allocs.pb.gz          allocs protobuf, optional
    SESSION/NNNNNN.json                  the commit record, written LAST:
        {"seq": N, "time": unix_float, "elapsed": s, "epoch": E,
         "memstats": {"HeapAlloc": int, "NumGC": int, ...every integer MemStats field},
         "gc_forced": false,  (only when the snapshot forced no GC; absent: it did)
         "goroutines": total | null, "files": {"heap": "000003.heap.pb.gz", ...},
         "errors": {"endpoint": "one line"}, "limits": {"gomemlimit": N | null},
         "process": {"rss": N, "open_fds": N, "max_fds": N, "memory_limit": N,
                     "pid": N, "source": "procfs" | "metrics"}}   (optional: what the
         kernel says of a local target, or its /metrics; figures it cannot know are absent)
         "guards": {"buffers": {NAME: {"capacity": N, "items": N, "dropped": N, ...,
                                       "policy": "drop-oldest"}},
                    "pools": {NAME: {"gets": N, "hits": N, ...}}}   (optional: the
         leakhunter.guard figures a Python agent serves in /debug/vars)

Every file is written to a dot-prefixed temp file in the same directory, fsynced
and renamed into place, so a reader sees whole files or none. A snapshot exists
only once its NNNNNN.json does: a kill mid-snapshot leaves profile files without
a record, which readers ignore. A snapshot whose target was down has empty
``memstats`` and ``files`` and says why in ``errors``. ``epoch`` increases each
time the target restarted (its counters went down); series must not cross epochs.
``gc_forced`` says whether the MemStats were read after a GC the snapshot forced
(``heap?gc=1``): then HeapAlloc is the exact live heap; without (a watch with
``gc_every`` > 1) it also counts garbage not yet collected. The key is written
only when false, so a watch forcing every GC writes the records it always did
and older sessions read as forcing one every time, which they did.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from leakhunter import __version__
from leakhunter.collect.kinds import KINDS
from leakhunter.collect.session_checks import (
    check_schema,
    member_problem,
    read_json,
    record_numbers,
)
from leakhunter.errors import FormatError, LeakhunterError
from leakhunter.formats.bounded_read import read_capped
from leakhunter.formats.limits import is_gzip, maybe_gunzip
from leakhunter.formats.memstats import MemStats
from leakhunter.model import Profile
from leakhunter.urls import redact

if TYPE_CHECKING:
    from leakhunter.formats.pprof_view import ProfileView

__all__ = [
    "FILE_SUFFIXES",
    "SCHEMA",
    "Manifest",
    "Session",
    "SessionInfo",
    "SessionWriteError",
    "SessionWriter",
    "Snapshot",
    "SnapshotRecord",
    "Guards",
    "atomic_write",
    "clean_guards",
    "frozen_guards",
    "is_session_dir",
    "load_manifest",
    "load_session",
]

SCHEMA = "leakhunter.session/1"

#: File name suffix of each profile kind (the file is ``f"{seq:06d}.{suffix}"``).
FILE_SUFFIXES: Mapping[str, str] = MappingProxyType({k.name: k.suffix for k in KINDS.values()})

_RECORD = re.compile(r"^(\d{6})\.json$")
_MANIFEST = "manifest.json"


class SessionWriteError(LeakhunterError):
    """The session directory cannot be written (disk full, permissions, ...)."""


def atomic_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write data to path atomically: temp file in the same dir, fsync, rename.

    Raises:
        SessionWriteError: on any OSError, with "disk full" spelled out for ENOSPC.
    """
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if fsync:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise SessionWriteError(
                f"disk full writing {path}; the session keeps what was written"
            ) from None
        raise SessionWriteError(f"cannot write {path}: {exc.strerror or exc}") from None


def _dumps(obj: object) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode()


@dataclass(frozen=True, slots=True)
class Manifest:
    """What was watched, when, and how."""

    target: str
    started: str
    options: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    tool_version: str = __version__
    schema: str = SCHEMA

    def to_json(self) -> dict[str, object]:
        """Return the manifest as a JSON object."""
        return {
            "schema": self.schema,
            "target": self.target,
            "started": self.started,
            "options": dict(self.options),
            "tool_version": self.tool_version,
        }

    @staticmethod
    def from_json(obj: object, source: str = _MANIFEST) -> Manifest:
        """Build a manifest from parsed JSON; FormatError when it is not one."""
        if not isinstance(obj, dict) or not str(obj.get("schema", "")).startswith(
            "leakhunter.session/"
        ):
            raise FormatError(source, "not a leakhunter session manifest")
        options = obj.get("options")
        return Manifest(
            target=redact(str(obj.get("target", ""))),  # older sessions may hold a password
            started=str(obj.get("started", "")),
            options=MappingProxyType(dict(options) if isinstance(options, dict) else {}),
            tool_version=str(obj.get("tool_version", "")),
            schema=str(obj["schema"]),
        )


def _int_map(obj: object, source: str, what: str) -> dict[str, int]:
    if not isinstance(obj, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in obj.values()
    ):
        raise FormatError(source, f"{what} must map names to integers")
    return {str(k): int(v) for k, v in obj.items()}


#: leakhunter.guard figures: kind ("buffers" | "pools") -> name -> figure -> value
Guards = Mapping[str, Mapping[str, Mapping[str, int | str]]]
_GUARD_KINDS = ("buffers", "pools")
_MAX_GUARDS = 64  # per kind: a target's figures are not trusted to stay small
_MAX_NAME = 120


def clean_guards(obj: object) -> dict[str, dict[str, dict[str, int | str]]]:
    """Return the well-formed part of a guards object (never raises: hostile input is dropped).

    Keeps the two kinds, at most 64 names each (strings up to 120 characters),
    integer figures that fit in 64 bits and a short ``policy`` string.
    """
    out: dict[str, dict[str, dict[str, int | str]]] = {}
    if not isinstance(obj, dict):
        return out
    for kind in _GUARD_KINDS:
        named = obj.get(kind)
        if not isinstance(named, dict):
            continue
        rows: dict[str, dict[str, int | str]] = {}
        for name, figures in list(named.items())[:_MAX_GUARDS]:
            if not isinstance(name, str) or len(name) > _MAX_NAME or not isinstance(figures, dict):
                continue
            row: dict[str, int | str] = {}
            for key, value in list(figures.items())[:32]:
                if not isinstance(key, str) or len(key) > 40:
                    continue
                number = isinstance(value, int) and not isinstance(value, bool)
                if (number and abs(value) < 1 << 63) or (
                    key == "policy" and isinstance(value, str) and len(value) <= 32
                ):
                    row[key] = value
            rows[name] = row
        if rows:
            out[kind] = rows
    return out


def frozen_guards(obj: Mapping[str, Mapping[str, Mapping[str, int | str]]]) -> Guards:
    """Return guard figures as read-only mappings (what a frozen record holds)."""
    return MappingProxyType(
        {
            kind: MappingProxyType({n: MappingProxyType(dict(f)) for n, f in rows.items()})
            for kind, rows in obj.items()
        }
    )


def _str_map(obj: object, source: str, what: str) -> dict[str, str]:
    if not isinstance(obj, dict):
        raise FormatError(source, f"{what} must be an object")
    return {str(k): str(v) for k, v in obj.items()}


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """The commit record of one snapshot (NNNNNN.json): small, exact, always in memory."""

    seq: int
    time: float
    elapsed: float
    epoch: int = 0
    memstats: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    goroutines: int | None = None
    files: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    gomemlimit: int | None = None
    process: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    process_source: str = ""  # "procfs" | "metrics" | "" (none known)
    gc_forced: bool = True  # MemStats read after a GC this snapshot forced (heap?gc=1)
    guards: Guards = field(default_factory=lambda: MappingProxyType({}))

    @property
    def stats(self) -> MemStats | None:
        """Return the exact MemStats, or None when the target did not answer."""
        if not self.memstats:
            return None
        try:
            return MemStats.from_fields(self.memstats, f"snapshot {self.seq}")
        except FormatError:
            return None

    def to_json(self) -> dict[str, object]:
        """Return the record as a JSON object (the on-disk format)."""
        out: dict[str, object] = {
            "seq": self.seq,
            "time": self.time,
            "elapsed": self.elapsed,
            "epoch": self.epoch,
            "memstats": dict(self.memstats),
            "goroutines": self.goroutines,
            "files": dict(self.files),
            "errors": dict(self.errors),
            "limits": {"gomemlimit": self.gomemlimit},
        }
        if self.process:  # only when known: records stay as they were otherwise
            out["process"] = {**self.process, "source": self.process_source}
        if not self.gc_forced:  # likewise: a watch forcing every GC writes what it always did
            out["gc_forced"] = False
        if self.guards:  # only a Python agent with named guards serves them
            out["guards"] = {
                k: {n: dict(f) for n, f in rows.items()} for k, rows in self.guards.items()
            }
        return out

    @staticmethod
    def from_json(obj: object, source: str) -> SnapshotRecord:
        """Build a record from parsed JSON; FormatError on a malformed one."""
        if not isinstance(obj, dict):
            raise FormatError(source, "snapshot record is not a JSON object")
        record_numbers(obj, source)
        try:
            limits = obj.get("limits") or {}
            limit = limits.get("gomemlimit") if isinstance(limits, dict) else None
            goroutines = obj.get("goroutines")
            proc = obj.get("process") or {}
            proc = proc if isinstance(proc, dict) else {}
            proc_source = str(proc.get("source", ""))
            figures = {k: v for k, v in proc.items() if k != "source"}
            forced = obj.get("gc_forced", True)  # older sessions forced a GC every time
            if not isinstance(forced, bool):
                raise FormatError(source, "gc_forced must be true or false")
            return SnapshotRecord(
                seq=int(obj["seq"]),
                time=float(obj["time"]),
                elapsed=float(obj["elapsed"]),
                epoch=int(obj.get("epoch", 0)),
                memstats=MappingProxyType(_int_map(obj.get("memstats", {}), source, "memstats")),
                goroutines=None if goroutines is None else int(goroutines),
                files=MappingProxyType(_str_map(obj.get("files", {}), source, "files")),
                errors=MappingProxyType(_str_map(obj.get("errors", {}), source, "errors")),
                gomemlimit=None if limit is None else int(limit),
                process=MappingProxyType(_int_map(figures, source, "process")),
                process_source=proc_source,
                gc_forced=forced,
                guards=frozen_guards(clean_guards(obj.get("guards"))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(source, f"malformed snapshot record ({exc})") from None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A committed snapshot: its record, and its profiles read from disk on demand.

    Nothing but the record is held in memory; each accessor reads (and decodes)
    the file again, so a session of thousands of snapshots can be iterated.
    """

    directory: Path
    record: SnapshotRecord

    @property
    def seq(self) -> int:
        """Return the snapshot's sequence number."""
        return self.record.seq

    def has(self, kind: str) -> bool:
        """Return True when this snapshot recorded a file of that kind."""
        return kind in self.record.files

    def path(self, kind: str) -> Path:
        """Return the path of one profile file; KeyError when the snapshot has none."""
        return self.directory / self.record.files[kind]

    def name(self, kind: str) -> str:
        """Return the path of one profile file as a string (for messages)."""
        return str(self.path(kind))

    def read_bytes(self, kind: str) -> bytes:
        """Return a file's bytes as stored (gzipped)."""
        return read_capped(str(self.path(kind)))

    def profile(self, kind: str = "heap", *, max_bytes: int | None = None) -> Profile:
        """Decode one protobuf profile (heap, goroutine, goroutineleak, allocs)."""
        from leakhunter.formats.pprof import decode

        return decode(self.read_bytes(kind), source=str(self.path(kind)), max_bytes=max_bytes)

    def profile_view(self, kind: str = "heap") -> ProfileView:
        """Parse one profile for analysis (tables read on demand)."""
        from leakhunter.formats.pprof_view import decode_view

        return decode_view(self.read_bytes(kind), source=str(self.path(kind)))

    def goroutine_text(self, *, max_bytes: int | None = None) -> str | None:
        """Return the debug=2 goroutine dump text, or None when this snapshot has none."""
        if not self.has("goroutine2"):
            return None
        raw = maybe_gunzip(self.read_bytes("goroutine2"), str(self.path("goroutine2")), max_bytes)
        return raw.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """Where a judged run's data came from, for report headers."""

    directory: str
    started: str = ""
    tool_version: str = ""

    @staticmethod
    def of(directory: str | Path, manifest: Manifest | None) -> SessionInfo:
        """Return the info of a session folder and its manifest (None: lost)."""
        return SessionInfo(
            str(directory),
            manifest.started if manifest else "",
            manifest.tool_version if manifest else "",
        )


@dataclass(frozen=True, slots=True)
class Session:
    """A session read back: manifest (None if unreadable), committed snapshots in order."""

    directory: Path
    manifest: Manifest | None
    snapshots: tuple[Snapshot, ...]
    warnings: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """Return the watched target URL ("" when the manifest is lost)."""
        return self.manifest.target if self.manifest else ""

    def epochs(self) -> tuple[tuple[Snapshot, ...], ...]:
        """Return the snapshots split into runs of one target process (one per epoch)."""
        runs: list[list[Snapshot]] = []
        for snap in self.snapshots:
            if not runs or runs[-1][-1].record.epoch != snap.record.epoch:
                runs.append([])
            runs[-1].append(snap)
        return tuple(tuple(run) for run in runs)


class SessionWriter:
    """Writes one session directory; every call leaves it readable by load_session."""

    def __init__(self, directory: str | Path, manifest: Manifest, *, fsync: bool = True) -> None:
        """Create the directory (it must be new or empty) and write the manifest.

        Raises:
            SessionWriteError: the directory cannot be created or already holds a session.
        """
        self.directory = Path(directory)
        self.manifest = manifest
        self._fsync = fsync
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            busy = any(
                p.name == _MANIFEST or _RECORD.match(p.name) for p in self.directory.iterdir()
            )
        except OSError as exc:
            raise SessionWriteError(f"cannot create {self.directory}: {exc.strerror}") from None
        if busy:
            raise SessionWriteError(f"{self.directory} already holds a session; pick a new --out")
        atomic_write(self.directory / _MANIFEST, _dumps(manifest.to_json()), fsync=fsync)

    def write_file(self, seq: int, kind: str, data: bytes) -> str:
        """Store one profile of a snapshot (gzipping it if served plain); return its name."""
        name = f"{seq:06d}.{FILE_SUFFIXES[kind]}"
        if not is_gzip(data):
            data = gzip.compress(data, compresslevel=6, mtime=0)
        atomic_write(self.directory / name, data, fsync=self._fsync)
        return name

    def discard(self, names: Mapping[str, str]) -> None:
        """Remove the files of an abandoned snapshot (best effort)."""
        for name in names.values():
            with contextlib.suppress(OSError):
                (self.directory / name).unlink()

    def commit(self, record: SnapshotRecord) -> Snapshot:
        """Write the snapshot's record last, making the snapshot visible to readers."""
        atomic_write(
            self.directory / f"{record.seq:06d}.json", _dumps(record.to_json()), fsync=self._fsync
        )
        return Snapshot(self.directory, record)


def _read_manifest(directory: Path, warnings: list[str]) -> Manifest | None:
    path = directory / _MANIFEST
    if not path.exists():
        warnings.append(f"{path}: missing; target and options unknown")
        return None
    try:
        manifest = Manifest.from_json(read_json(path), str(path))
    except (OSError, ValueError, FormatError) as exc:
        warnings.append(f"{path}: unreadable ({exc}); target and options unknown")
        return None
    check_schema(manifest.schema, str(path))  # another version's layout: refuse, don't guess
    return manifest


def load_manifest(directory: str | Path) -> Manifest | None:
    """Return a session folder's manifest (None when it is missing or unreadable)."""
    return _read_manifest(Path(directory), [])


def is_session_dir(directory: str | Path) -> bool:
    """Return True when a folder holds a session (a manifest.json or a NNNNNN.json record)."""
    root = Path(directory)
    if (root / _MANIFEST).exists():
        return True
    try:
        return any(_RECORD.match(p.name) for p in root.iterdir())
    except OSError:
        return False


def load_session(directory: str | Path) -> Session:
    """Read a session directory: manifest plus every committed snapshot, in seq order.

    Half-written snapshots (profile files without a record), temp files and
    unreadable records are skipped; problems are reported in ``Session.warnings``.

    Raises:
        FormatError: directory is missing or holds neither manifest nor snapshot.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FormatError(str(root), "no such session directory")
    warnings: list[str] = []
    manifest = _read_manifest(root, warnings)
    snapshots: list[Snapshot] = []
    try:
        names = sorted(p.name for p in root.iterdir())
    except OSError as exc:
        raise FormatError(str(root), f"cannot read the session ({exc.strerror or exc})") from None
    for name in names:
        if not _RECORD.match(name):
            continue
        path = root / name
        try:
            record = SnapshotRecord.from_json(read_json(path), str(path))
        except (OSError, ValueError, FormatError) as exc:
            warnings.append(f"{path.name}: skipped ({exc})")
            continue
        problems = {n: member_problem(root, n) for n in record.files.values()}
        missing = [n for n, problem in problems.items() if problem]
        if missing:
            warnings.append(f"{path.name}: {'; '.join(str(problems[n]) for n in missing)}")
            kept = {k: n for k, n in record.files.items() if n not in missing}
            record = replace(record, files=MappingProxyType(kept))
        snapshots.append(Snapshot(root, record))
    if manifest is None and not snapshots:
        raise FormatError(str(root), "not a leakhunter session (no manifest.json, no snapshots)")
    snapshots.sort(key=lambda s: s.seq)
    return Session(root, manifest, tuple(snapshots), tuple(warnings))
