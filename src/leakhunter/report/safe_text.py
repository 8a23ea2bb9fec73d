"""Making profile strings safe to show: terminals and XML get no raw control characters.

Function names, file names, label values and error excerpts come from the
target, which may be hostile: an ESC/OSC/CSI sequence printed raw can retitle
or clear the terminal, and a NUL or ESC makes XML not well-formed. Every
renderer that writes such strings passes them through here: :func:`for_terminal`
for text meant for a terminal, :func:`for_xml` for XML, and :func:`scrub` to
clean every string of a (frozen dataclass) value before a renderer lays it out.
Escapes are visible (backslash, x, two hex digits) so the name stays recognisable.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TypeVar

__all__ = ["for_terminal", "for_xml", "scrub"]

T = TypeVar("T")

# C0 controls, DEL, C1 controls (0x9b is a one-byte CSI to some terminals), and
# lone surrogates (undecodable bytes kept by surrogateescape): none may reach a
# terminal raw. Newlines are the caller's business (it splits lines first).
_TERMINAL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# What XML 1.0 cannot hold at all (plus DEL and C1, which it discourages).
_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def for_terminal(text: str) -> str:
    """Return text with every control character (but newline) shown as an escape."""
    return _TERMINAL.sub(_escape, text)


def for_xml(text: str) -> str:
    """Return text with every character XML 1.0 cannot carry shown as an escape."""
    return _XML.sub(_escape, text)


def scrub(value: T) -> T:
    """Return value with for_terminal applied to every string in it.

    Walks strings, tuples, lists, dicts and dataclasses (rebuilt with
    dataclasses.replace); anything else (numbers, arrays, enums) is kept as is.
    """
    return _scrub(value, 0)  # type: ignore[return-value]


def _scrub(value: object, depth: int) -> object:
    if isinstance(value, str):
        return for_terminal(value) if _TERMINAL.search(value) else value
    if depth > 12:
        return value
    if isinstance(value, tuple):
        return tuple(_scrub(v, depth + 1) for v in value)
    if isinstance(value, list):
        return [_scrub(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, depth + 1) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = _scrub(old, depth + 1)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value
