"""Parse the exact ``runtime.MemStats`` block that ends Go's ``heap?debug=1`` text.

After ``heap?gc=1&debug=1`` the block's HeapAlloc is the exact live heap (the
runtime ran a GC just before printing it), so whole-heap trends are judged on
these numbers rather than on the sampled per-site profile. The block looks like::

    # runtime.MemStats
    # Alloc = 2217920
    # Stack = 688128 / 688128
    # PauseNs = [418041 0 0 ...]
    # GCCPUFraction = 7.55e-05
    # DebugGC = false

Every integer scalar is kept (``fields``); the ``a / b`` pairs are split into the
MemStats names they print (Stack -> StackInuse, StackSys); the two 256-entry
arrays are kept as tuples; GCCPUFraction and DebugGC are kept typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from leakhunter.errors import FormatError
from leakhunter.safe_numbers import NumberError, checked_float, checked_int, parse_int

__all__ = ["MemStats", "looks_like_heap_text", "parse_memstats", "split_heap_text"]

_HEADER = "# runtime.MemStats"

# "Stack = inuse / sys" style lines and the MemStats field names they stand for.
_PAIRS: dict[str, tuple[str, str]] = {
    "Stack": ("StackInuse", "StackSys"),
    "MSpan": ("MSpanInuse", "MSpanSys"),
    "MCache": ("MCacheInuse", "MCacheSys"),
}

# Fields a heap?debug=1 MemStats block always has; missing ones mean garbage input.
_REQUIRED = ("HeapAlloc", "HeapInuse", "HeapObjects", "Sys", "NumGC", "TotalAlloc")


@dataclass(frozen=True, slots=True)
class MemStats:
    """Exact runtime.MemStats figures as the Go runtime printed them.

    ``fields`` maps every integer scalar (e.g. "HeapAlloc", "NumForcedGC",
    "StackInuse", "MaxRSS") to its value; the named attributes are the ones every
    later stage reads. Values are bytes or counts, never scaled.
    """

    heap_alloc: int
    heap_inuse: int
    heap_objects: int
    sys: int
    num_gc: int
    total_alloc: int
    mallocs: int = 0
    frees: int = 0
    num_forced_gc: int = 0
    next_gc: int = 0
    last_gc: int = 0
    fields: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    pause_ns: tuple[int, ...] = ()
    pause_end: tuple[int, ...] = ()
    gc_cpu_fraction: float = 0.0
    debug_gc: bool = False

    @staticmethod
    def from_fields(fields: Mapping[str, int], source: str = "memstats") -> MemStats:
        """Build MemStats from a name -> int mapping (e.g. a session's json)."""
        missing = [name for name in _REQUIRED if name not in fields]
        if missing:
            raise FormatError(source, f"MemStats lacks {', '.join(missing)}")
        try:  # also figures from a session's JSON, as untrusted as a target's
            for name, value in fields.items():
                checked_int(value, name)
        except NumberError as exc:
            raise FormatError(source, str(exc)) from None
        return MemStats(
            heap_alloc=fields["HeapAlloc"],
            heap_inuse=fields["HeapInuse"],
            heap_objects=fields["HeapObjects"],
            sys=fields["Sys"],
            num_gc=fields["NumGC"],
            total_alloc=fields["TotalAlloc"],
            mallocs=fields.get("Mallocs", 0),
            frees=fields.get("Frees", 0),
            num_forced_gc=fields.get("NumForcedGC", 0),
            next_gc=fields.get("NextGC", 0),
            last_gc=fields.get("LastGC", 0),
            fields=MappingProxyType(dict(fields)),
        )


def looks_like_heap_text(data: bytes) -> bool:
    """Return True when data is heap?debug=1 text at all (even if its MemStats are bad).

    Tells a target that serves pprof with one bad figure from one that answers
    200 with something else entirely (a login page, a proxy's error page).
    """
    head = data[:4096].lstrip()
    return (
        head.startswith((b"heap profile:", _HEADER.encode())) or (b"\n" + _HEADER.encode()) in data
    )


def split_heap_text(text: str) -> tuple[str, str]:
    """Split heap?debug=1 text into (profile part, MemStats block); block "" if absent."""
    pos = text.rfind("\n" + _HEADER)
    if pos < 0:
        return (text, text) if text.startswith(_HEADER) else (text, "")
    return text[: pos + 1], text[pos + 1 :]


def _int(source: str, lineno: int, key: str, raw: str) -> int:
    # A target's figures are untrusted: one beyond int64 would overflow numpy
    # columns later (and end a watch), so it is refused here, as malformed.
    try:
        return parse_int(raw, key)
    except NumberError as exc:
        raise FormatError(source, f"line {lineno}: {exc}") from None


def _array(source: str, lineno: int, key: str, raw: str) -> tuple[int, ...]:
    if not (raw.startswith("[") and raw.endswith("]")):
        raise FormatError(source, f"line {lineno}: {key} is not a [..] list")
    return tuple(_int(source, lineno, key, item) for item in raw[1:-1].split())


def parse_memstats(data: bytes | str, *, source: str = "heap?debug=1") -> MemStats:
    """Parse the ``# runtime.MemStats`` block of heap?debug=1 output (or the block alone).

    Raises:
        FormatError: the text has no MemStats block, a malformed line, or lacks
            the core fields.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(source, "not UTF-8 text (is it a protobuf profile?)") from None
    _, block = split_heap_text(data)
    if not block:
        raise FormatError(source, "no '# runtime.MemStats' section (not heap?debug=1 output?)")
    fields: dict[str, int] = {}
    arrays: dict[str, tuple[int, ...]] = {}
    fraction = 0.0
    debug_gc = False
    for lineno, line in enumerate(block.splitlines()[1:], start=2):
        if not line.strip():
            continue
        key, sep, raw = line.removeprefix("# ").partition(" = ")
        if not line.startswith("# ") or not sep or not key.isidentifier():
            raise FormatError(source, f"MemStats line {lineno} is malformed: {line[:60]!r}")
        raw = raw.strip()
        if key in _PAIRS:
            inuse, slash, total = raw.partition(" / ")
            if not slash:
                raise FormatError(source, f"line {lineno}: {key} is not 'inuse / sys'")
            fields[_PAIRS[key][0]] = _int(source, lineno, key, inuse)
            fields[_PAIRS[key][1]] = _int(source, lineno, key, total)
        elif raw.startswith("["):
            arrays[key] = _array(source, lineno, key, raw)
        elif key == "GCCPUFraction":
            try:
                fraction = checked_float(float(raw), key, 0.0, 1.0)
            except ValueError:
                raise FormatError(
                    source, f"line {lineno}: bad GCCPUFraction {raw[:40]!r}"
                ) from None
        elif raw in ("true", "false"):
            debug_gc = raw == "true" if key == "DebugGC" else debug_gc
        else:
            fields[key] = _int(source, lineno, key, raw)
    return replace(
        MemStats.from_fields(fields, source),
        pause_ns=arrays.get("PauseNs", ()),
        pause_end=arrays.get("PauseEnd", ()),
        gc_cpu_fraction=fraction,
        debug_gc=debug_gc,
    )
