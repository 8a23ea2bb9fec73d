"""Lines of a Go traceback: goroutine header tails and the frames of one stack.

These parsers see each distinct header tail and each distinct stack once (the
dump walker caches them), so they favour clarity over speed.
"""

from __future__ import annotations

import re

from leakhunter.formats.goroutine_fields import parse_labels
from leakhunter.model.goroutine import Frame

__all__ = ["HeaderInfo", "file_line", "parse_header_tail", "parse_stack"]

#: (state, wait minutes, locked to thread, leaked, labels) of one header.
HeaderInfo = tuple[str, int | None, bool, bool, tuple[tuple[str, str], ...]]

_MINUTES = re.compile(r"([0-9]{1,9}) minutes?")


def parse_header_tail(tail: bytes) -> HeaderInfo | None:
    """Parse a header's ``[state, N minutes, locked to thread labels:{...}]:``.

    The state is kept verbatim (unknown wait reasons included) minus the
    ``(leaked)`` and ``(scan)`` flags; returns None when malformed.
    """
    if not tail.startswith(b"[") or not tail.rstrip().endswith(b"]:"):
        return None
    inner = tail.rstrip()[1:-2].decode("utf-8", "replace")
    labels: tuple[tuple[str, str], ...] = ()
    at = inner.find(" labels:{")
    if at >= 0:
        labels = parse_labels(inner[at + 9 :])
        inner = inner[:at]
    state, *attrs = inner.split(", ")
    minutes: int | None = None
    locked = False
    for attr in attrs:
        m = _MINUTES.fullmatch(attr)
        if m:
            minutes = int(m.group(1))
        elif attr == "locked to thread":
            locked = True
        # Anything else ("synctest bubble 3", future fields) describes the
        # goroutine, not its wait, and must not split groups.
    leaked = " (leaked)" in state
    if leaked:
        state = state.replace(" (leaked)", "")
    if " (scan)" in state:
        state = state.replace(" (scan)", "")  # a GC flag of the moment, not a state
    return state, minutes, locked, leaked, labels


def parse_stack(text: str) -> tuple[tuple[Frame, ...], Frame | None, bool]:
    """Parse one goroutine's stack lines into (frames leaf first, created by, elided).

    Function lines are ``pkg.f(args)`` (arguments may already be stripped), each
    followed by a tab-indented ``/file.go:123 +0x1d`` line; ``created by`` and
    ``...N frames elided...`` lines are recognised; anything else (a register
    dump, ``exit status 2``) has no file line after it and is skipped.
    """
    frames: list[Frame] = []
    created_by: Frame | None = None
    elided = False
    lines = text.split("\n")
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        i += 1
        if not line or line[0] == "\t":
            continue  # a stray file line, or "goroutine running on other thread"
        if line.startswith("[originating from goroutine "):
            break  # ancestors' stacks (GODEBUG=tracebackancestors) are not this one's
        if line[0] == "." and line.endswith("elided..."):
            elided = True
            continue
        file, lineno = "", 0
        if i < n and lines[i][:1] == "\t":
            file, lineno = file_line(lines[i])
            i += 1
        elif not line.startswith("created by "):
            continue
        if line.startswith("created by "):
            name = line[11:]
            cut = name.find(" in goroutine ")
            created_by = Frame(name[:cut] if cut >= 0 else name, file, lineno)
            continue
        if line.endswith(")"):
            # Arguments hold no parentheses (hex words, {...}, ...), so the last
            # "(" opens them even in names like main.(*T).m.
            line = line[: line.rfind("(")]
        frames.append(Frame(line, file, lineno))
    return tuple(frames), created_by, elided


def file_line(line: str) -> tuple[str, int]:
    """Split a tab-indented ``/path/file.go:123 +0x1d fp=...`` line into (path, 123).

    The number follows the last colon, so Windows drive letters survive.
    """
    text = line[1:]
    for marker in (" +0x", " fp="):
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    path, colon, number = text.rpartition(":")
    if not colon or not number.isascii() or not number.isdigit() or len(number) > 9:
        return text, 0
    return path, int(number)
