"""Go goroutine dumps as text (debug=2, panic/SIGQUIT/fatal output) and format sniffing.

Speed is the design constraint: a 100k-goroutine debug=2 dump is ~50 MB and
holds a few dozen distinct stacks. The text is walked block by block with
bytes.find (no per-line Python work), each block's header tail and stack text
are looked up in caches, and only a stack never seen before is parsed: first by
its exact bytes, then with argument values, frame pointers and the creator's
goroutine id stripped (they differ per goroutine; the grouping ignores them).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager

from leakhunter.errors import FormatError
from leakhunter.formats.goroutine_fields import infer_state
from leakhunter.formats.goroutine_lines import HeaderInfo, parse_header_tail, parse_stack
from leakhunter.formats.limits import maybe_gunzip
from leakhunter.model.goroutine import Frame, Goroutine, GoroutineDump, GoroutineGroup

__all__ = ["infer_state", "load_dump", "parse_text", "sniff"]

_HEADER = re.compile(rb"goroutine \d+ (?:[a-z]+=\S+ )*\[[^\n]*\]:\r?$", re.M)
_ARGS = re.compile(rb"\([^()\n]*\)\n")
_FRAME_REGS = re.compile(rb" fp=0x[0-9a-f]+ sp=0x[0-9a-f]+ pc=0x[0-9a-f]+")
_ORIGIN = b"\n[originating from goroutine "
_CREATOR = b" in goroutine "
_MESSAGE_MAX = 2000
_HEAD = 1 << 20
# First bytes a pprof protobuf can start with (a profile.proto field tag), and
# the control bytes its small varints put right after: text has neither.
_PROFILE_TAGS = frozenset(
    bytes([field << 3 | wire])
    for field, wire in ((1, 2), (2, 2), (3, 2), (4, 2), (5, 2), (6, 2), (7, 0), (8, 0))
    + ((9, 0), (10, 0), (11, 2), (12, 0), (13, 0), (13, 2), (14, 0), (15, 0))
)
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f]")

# (canonical stack id, frames, created by, elided)
_Stack = tuple[int, tuple[Frame, ...], Frame | None, bool]
# (the group's id list, the group if these goroutines are leaked, header, stack, creator)
_Slot = tuple[list[int], "_Group | None", HeaderInfo, _Stack, int | None]


def sniff(data: bytes) -> str:
    """Name the format of decompressed dump bytes.

    Returns "debug=1", "debug=2", "crash", "debug=0" (a protobuf), or "" when
    the bytes are none of them.
    """
    head = data[:256].lstrip()
    if head.startswith((b"goroutine profile: total ", b"goroutineleak profile: total ")):
        return "debug=1"
    if data.startswith(b"goroutine ") and _HEADER.match(data):
        return "debug=2"
    if _first_header(data) >= 0:
        return "crash"
    if data[:1] in _PROFILE_TAGS and _CONTROL.search(data[:64]):
        return "debug=0"
    return ""


def load_dump(
    data: bytes,
    source: str = "<bytes>",
    *,
    max_bytes: int | None = None,
    keep_goroutines: bool = True,
) -> GoroutineDump:
    """Parse a goroutine dump in any format Go writes, gzipped or not.

    ``keep_goroutines=False`` skips building one object per goroutine (groups
    only), which is most of the cost on huge dumps.

    Raises:
        FormatError: the bytes are not a readable goroutine dump.
    """
    data = maybe_gunzip(data, source, max_bytes)
    kind = sniff(data)
    if kind in ("debug=2", "crash"):
        return parse_text(data, source, keep_goroutines=keep_goroutines)
    if kind == "debug=1":
        from leakhunter.formats.goroutine_counts import parse_counts

        return parse_counts(data, source)
    if kind == "debug=0":
        from leakhunter.formats.goroutine_counts import parse_proto

        return parse_proto(data, source)
    raise FormatError(source, _describe(data))


def _describe(data: bytes) -> str:
    """Say in a few words what the bytes are, since they are not a goroutine dump."""
    if not data or data.isspace():
        return "empty input, not a goroutine dump"
    if data.startswith(b"\x89PNG"):
        return "a PNG image, not a goroutine dump"
    if data.startswith(b"\x7fELF"):
        return "an ELF executable, not a goroutine dump"
    head = data[:4096]
    if head.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        return "an HTML page, not a goroutine dump (wrong URL?)"
    profile = re.match(rb"\s*(\w+) profile: ", data)
    if profile:
        return f"a {profile.group(1).decode()} profile, not a goroutine dump"
    if b"\0" in head:
        return "binary data, neither a goroutine dump nor a pprof profile"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return "binary data, neither a goroutine dump nor a pprof profile"
    if head.lstrip().startswith(b"goroutine "):
        return "truncated or malformed goroutine header (expected `goroutine N [state]:`)"
    return (
        "no `goroutine N [state]:` header or `goroutine profile: total N` line; "
        "not a Go goroutine dump"
    )


def _first_header(data: bytes) -> int:
    """Return the offset of the first goroutine header at a line start, or -1."""
    for m in _HEADER.finditer(data):
        if m.start() == 0 or data[m.start() - 1] == 0x0A:
            return m.start()
    return -1


@contextmanager
def _no_gc() -> Iterator[None]:
    # Parsing allocates many long-lived objects and no cycles; collections
    # triggered by the allocation count would only rescan them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Group:
    """Running totals of one (state, stack) group while the dump is walked."""

    __slots__ = (
        "creator",
        "ids",
        "labels",
        "leaked",
        "max",
        "min",
        "stack",
        "state",
        "under_a_minute",
    )

    def __init__(self, state: str, stack: _Stack, labels: tuple[tuple[str, str], ...]) -> None:
        self.state = state
        self.stack = stack
        self.labels = labels
        self.leaked = 0
        self.min: int | None = None
        self.max: int | None = None
        self.ids: list[int] = []
        self.creator: int | None = -1  # -1: no member seen yet
        self.under_a_minute = False  # a member printed no minutes: it waited < 1 min

    def freeze(self) -> GoroutineGroup:
        return GoroutineGroup(
            count=len(self.ids),
            state=self.state,
            frames=self.stack[1],
            created_by=self.stack[2],
            wait_minutes_min=0 if self.under_a_minute and self.max is not None else self.min,
            wait_minutes_max=self.max,
            leaked=self.leaked,
            labels=self.labels,
            ids=tuple(self.ids),
            creator_id=self.creator,
        )


def parse_text(
    data: bytes, source: str = "<bytes>", *, keep_goroutines: bool = True
) -> GoroutineDump:
    """Parse debug=2 or crash output (panic, SIGQUIT, fatal error) into a dump.

    Text outside goroutine blocks (panic messages, register dumps, ``exit
    status 2``) is skipped; goroutine 0 (a thread's scheduler stack) and
    repeated ids are dropped.

    Raises:
        FormatError: no complete goroutine in the text.
    """
    if b"\r\n" in data[:_HEAD]:  # a CRLF file shows it in its first line
        data = data.replace(b"\r\n", b"\n")
    start = 0 if data.startswith(b"goroutine ") else _first_header(data)
    if start < 0:
        raise FormatError(source, _describe(data))
    with _no_gc():
        return _Walker(data, source, keep_goroutines).run(start)


class _Walker:
    """One pass over a text dump; caches live only as long as the pass."""

    def __init__(self, data: bytes, source: str, keep: bool) -> None:
        self.data = data
        self.source = source
        self.keep = keep
        self.headers: dict[bytes, HeaderInfo | None] = {}
        self.settled: dict[tuple[bytes, bytes], _Slot | None] = {}
        self.normal: dict[bytes, _Stack] = {}
        self.canon: dict[tuple[tuple[str, int], ...], int] = {}
        self.groups: dict[tuple[str, int], _Group] = {}
        self.goroutines: list[Goroutine] = []
        self.truncated = False
        self.skipped_lines = 0  # non-blank lines between blocks (crash registers, junk)
        self.skipped_blocks = 0  # blocks under a header that could not be read
        # Rare features that would defeat the stack cache, looked for once at the
        # head of the text (they show on every goroutine when present at all).
        # Missing them costs cache hits, never correctness.
        head = data[:_HEAD]
        self.has_origin = _ORIGIN in head
        self.has_regs = b" fp=0x" in head

    def run(self, start: int) -> GoroutineDump:
        data = self.data
        find = data.find
        startswith = data.startswith
        size = len(data)
        pos = start + 10  # past "goroutine "
        seen: set[int] | None = None if start == 0 else set()  # crash output repeats ids
        # One slot per distinct (header tail, stack text): everything but the
        # goroutine id is settled when the slot is made, once.
        slots: dict[tuple[bytes, bytes], _Slot | None] = {}
        keep = self.keep
        while pos < size:
            nl = find(b"\n", pos)
            if nl < 0:
                nl = size
            header = data[pos:nl]
            # A block ends at its first blank line, or at the next header when a
            # log pipeline stripped the blank lines; the next block starts at the
            # next header wherever it is, and what lies between is counted.
            stop = find(b"\n\n", nl)
            inner = self._next_header(nl, size if stop < 0 else stop)
            if inner >= 0:
                body = data[nl + 1 : inner - 1]
                pos = inner + 10
            elif stop < 0:
                body = data[nl + 1 :]
                pos = size
                if not _complete(data, body):
                    self.truncated = True
                    body = _trim_partial(body, data.endswith(b"\n"))
            else:
                body = data[nl + 1 : stop]
                if startswith(b"goroutine ", stop + 2):
                    pos = stop + 12
                else:
                    nxt = self._next_header(stop, size)
                    self.skipped_lines += _text_lines(data, stop, size if nxt < 0 else nxt)
                    pos = size if nxt < 0 else nxt + 10
            ident, _, tail = header.partition(b" ")
            if not tail.startswith(b"["):  # "gp=0x.. m=.. mp=.. [state]:" (GOTRACEBACK>=system)
                tail = tail[tail.find(b"[") :]
            key = (tail, body)
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = self._slot(tail, body) if key not in slots else None
                if slot is None:
                    self.truncated = self.truncated or pos >= size
                    self.skipped_blocks += not (pos >= size and self.truncated)
                    continue
            try:
                gid = int(ident)
            except ValueError:
                self.skipped_blocks += 1
                continue
            if seen is not None:
                if gid == 0 or gid in seen:
                    continue  # a thread's scheduler stack, or a repeat
                seen.add(gid)
            slot[0].append(gid)
            if slot[1] is not None:
                slot[1].leaked += 1
            if keep:
                self.goroutines.append(_goroutine(gid, slot[2], slot[3], slot[4]))
        return self.finish(start)

    def _next_header(self, start: int, end: int) -> int:
        """Return the offset of the first header at a line start in [start, end), or -1."""
        data = self.data
        i = data.find(b"\ngoroutine ", start, end)
        while i >= 0 and not _HEADER.match(data, i + 1):
            i = data.find(b"\ngoroutine ", i + 1, end)
        return i + 1 if i >= 0 else -1

    def _slot(self, tail: bytes, body: bytes) -> _Slot | None:
        """Settle a (header tail, stack text) pair never seen verbatim; None if malformed.

        Most such pairs differ from a known one only by argument values, so the
        stack text is normalised first and the pair looked up again.
        """
        if self.has_origin:
            cut = body.find(_ORIGIN)
            if cut >= 0:
                body = body[:cut]  # ancestors (GODEBUG=tracebackancestors) are not this stack
        if self.has_regs:
            body = _FRAME_REGS.sub(b"", body)
        key = (tail, _ARGS.sub(b"()\n", body))  # a stack ends with a file line: calls end in \n
        slot = self.settled.get(key)
        if slot is None and key not in self.settled:
            slot = self.settled[key] = self._settle(*key)
        return slot

    def _settle(self, tail: bytes, text: bytes) -> _Slot | None:
        """Give a normalised (header tail, stack text) pair its group."""
        info = self.headers.get(tail)
        if info is None:
            if tail in self.headers:
                return None
            info = self.headers[tail] = parse_header_tail(tail)
            if info is None:
                return None
        stack, creator = self._stack(text)
        state, minutes, _, leaked, labels = info
        group = self.groups.get((state, stack[0]))
        if group is None:
            group = self.groups[(state, stack[0])] = _Group(state, stack, labels)
        if minutes is None:
            group.under_a_minute = True
        else:
            group.min = minutes if group.min is None else min(group.min, minutes)
            group.max = minutes if group.max is None else max(group.max, minutes)
        if labels != group.labels:
            group.labels = tuple(p for p in group.labels if p in labels)
        if creator != group.creator:
            group.creator = creator if group.creator == -1 else None
        return group.ids, group if leaked else None, info, stack, creator

    def finish(self, start: int) -> GoroutineDump:
        if not self.groups:
            problem = (
                "truncated before the first complete goroutine"
                if self.truncated
                else "no complete goroutine found (headers but no readable blocks)"
            )
            raise FormatError(self.source, problem)
        groups = [g for g in self.groups.values() if g.ids]  # all members may be repeats
        if not groups:
            raise FormatError(self.source, "no complete goroutine found")
        ordered = sorted(groups, key=lambda g: -len(g.ids))
        message = self.data[:start].decode("utf-8", "replace").strip()[:_MESSAGE_MAX]
        return GoroutineDump(
            format="crash" if message else "debug=2",
            groups=tuple(g.freeze() for g in ordered),
            goroutines=tuple(self.goroutines),
            truncated=self.truncated,
            message=message,
            skipped_lines=self.skipped_lines,
            skipped_blocks=self.skipped_blocks,
        )

    def _stack(self, text: bytes) -> tuple[_Stack, int | None]:
        """Split the creator's goroutine id off a normalised stack text; parse it if new."""
        creator: int | None = None
        i = text.rfind(_CREATOR)
        if i >= 0:
            j = text.find(b"\n", i)
            j = len(text) if j < 0 else j
            digits = text[i + len(_CREATOR) : j]
            if digits.isdigit() and len(digits) < 19:
                creator = int(digits)
                text = text[:i] + text[j:]
        stack = self.normal.get(text)
        if stack is None:
            frames, created_by, elided = parse_stack(text.decode("utf-8", "replace"))
            ident = tuple((f.function, f.line) for f in frames)
            sid = self.canon.setdefault(ident, len(self.canon))
            stack = self.normal[text] = (sid, frames, created_by, elided)
        return stack, creator


def _goroutine(gid: int, info: HeaderInfo, stack: _Stack, creator: int | None) -> Goroutine:
    return Goroutine(
        id=gid,
        state=info[0],
        frames=stack[1],
        wait_minutes=info[1],
        locked_to_thread=info[2],
        leaked=info[3],
        labels=info[4],
        created_by=stack[2],
        creator_id=creator,
        elided=stack[3],
    )


def _text_lines(data: bytes, start: int, end: int) -> int:
    """Count the non-blank lines of data[start:end]."""
    gap = data[start:end]
    return 0 if not gap.strip() else sum(1 for line in gap.split(b"\n") if line.strip())


def _complete(data: bytes, body: bytes) -> bool:
    """Return True unless the input looks cut (by Go's 64 MB cap, or a copy).

    Cut means: ending mid-line, on a function line without its file line, or
    right after a header.
    """
    if not data.endswith(b"\n"):
        return False
    body = body.rstrip(b"\n")
    return bool(body) and not body.endswith(b")")


def _trim_partial(body: bytes, ends_with_newline: bool) -> bytes:
    """Drop a cut-off last line and function lines left without their file line."""
    lines = body.rstrip(b"\n").split(b"\n")
    if not ends_with_newline and lines:
        lines.pop()
    while lines and lines[-1].endswith(b")"):
        lines.pop()
    return b"\n".join(lines)
