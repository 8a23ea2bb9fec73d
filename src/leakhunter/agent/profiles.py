"""Render the agent's figures in Go's formats: pprof protobufs and debug=1/debug=2 text.

Heap profiles carry Go's four sample types (alloc_* equal inuse_*: Python keeps
no allocation history); goroutine profiles carry goroutine/count per stack.
Text dumps follow the Go runtime's layout closely enough for leakhunter's own
parsers and for people used to reading them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from leakhunter.agent._pprof import ProfileWriter
from leakhunter.agent.heap import Site
from leakhunter.agent.routines import Routine
from leakhunter.model.goroutine import Frame

__all__ = [
    "goroutine_debug1",
    "goroutine_debug2",
    "goroutine_profile",
    "heap_profile",
    "heap_text",
    "memstats_block",
]

_HEAP_TYPES = (
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
)
_UNKNOWN = Frame("<unknown>")


def _stack(writer: ProfileWriter, frames: Sequence[Frame]) -> list[int]:
    return [writer.location(f.function, f.file, f.line) for f in frames or (_UNKNOWN,)]


def heap_profile(sites: Iterable[Site], duration_ns: int = 0, time_ns: int = 0) -> bytes:
    """Return a gzipped pprof heap profile of live objects/bytes per site, taken at ``time_ns``."""
    writer = ProfileWriter()
    for s in sites:
        if s.objects or s.bytes:
            writer.sample(_stack(writer, s.frames), (s.objects, s.bytes, s.objects, s.bytes))
    return writer.encode(_HEAP_TYPES, ("space", "bytes"), 1, time_ns or time.time_ns(), duration_ns)


def _groups(routines: Iterable[Routine]) -> dict[tuple[Frame, ...], int]:
    counts: dict[tuple[Frame, ...], int] = {}
    for r in routines:
        counts[r.frames] = counts.get(r.frames, 0) + 1
    return counts


def goroutine_profile(routines: Iterable[Routine]) -> bytes:
    """Return a gzipped goroutine?debug=0 protobuf: count per stack."""
    writer = ProfileWriter()
    for frames, n in _groups(routines).items():
        writer.sample(_stack(writer, frames), (n,))
    kind = ("goroutine", "count")
    return writer.encode((kind,), kind, 1, time.time_ns())


def goroutine_debug1(routines: Sequence[Routine]) -> str:
    """Return goroutine?debug=1 text: ``N @ 0x..`` records with ``#`` frame lines."""
    groups = sorted(_groups(routines).items(), key=lambda kv: -kv[1])
    out = [f"goroutine profile: total {len(routines)}"]
    for frames, n in groups:
        addrs = " ".join(f"0x{i + 1:x}" for i in range(len(frames)))
        out.append(f"{n} @ {addrs}")
        out += [
            f"#\t0x{i + 1:x}\t{f.function}+0x0\t{f.file}:{f.line}" for i, f in enumerate(frames)
        ]
        out.append("")
    return "\n".join(out) + "\n"


def goroutine_debug2(routines: Sequence[Routine]) -> str:
    """Return goroutine?debug=2 text: one ``goroutine N [state, M minutes]:`` block each."""
    out: list[str] = []
    for r in routines:
        extra = f", {r.wait_minutes} minutes" if r.wait_minutes else ""
        out.append(f'goroutine {r.id} [{r.state}{extra} labels:{{"kind":"{r.kind}"}}]:')
        for f in r.frames:
            out += [f"{f.function}(...)", f"\t{f.file}:{f.line}"]
        if r.created_by is not None:
            by = r.created_by
            where = f" in goroutine {r.creator}" if r.creator is not None else ""
            out += [f"created by {by.function}{where}", f"\t{by.file}:{by.line}"]
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def heap_text(sites: Sequence[Site], stats: Mapping[str, int], top: int = 50) -> str:
    """Return heap?debug=1 text: the biggest sites, then the ``# runtime.MemStats`` block."""
    objs = sum(s.objects for s in sites)
    size = sum(s.bytes for s in sites)
    out = [f"heap profile: {objs}: {size} [{objs}: {size}] @ heap/1"]
    for s in sorted(sites, key=lambda s: -s.bytes)[:top]:
        out.append(f"{s.objects}: {s.bytes} [{s.objects}: {s.bytes}] @")
        out += [f"#\t0x0\t{f.function}+0x0\t{f.file}:{f.line}" for f in s.frames]
    return "\n".join(out) + "\n\n" + memstats_block(stats)


def memstats_block(stats: Mapping[str, int]) -> str:
    """Return a ``# runtime.MemStats`` block of integer fields."""
    lines = ["# runtime.MemStats"] + [f"# {k} = {int(v)}" for k, v in stats.items()]
    return "\n".join(lines) + "\n"
