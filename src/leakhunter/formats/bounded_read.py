"""Reading input of any kind (file, stdin, FIFO, device) without passing the input cap.

A regular file tells its size up front; stdin, a FIFO or a device like
/dev/zero never ends or says nothing until it does. Every reader of input goes
through :func:`read_capped`, which reads in bounded pieces and stops one byte
past the cap, so memory stays bounded by the cap whatever the path names.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO

from leakhunter.errors import FormatError
from leakhunter.formats.limits import max_bytes_from_env

__all__ = ["read_capped"]

_PIECE = 1 << 20


def read_capped(path: str, max_bytes: int | None = None) -> bytes:
    """Return the bytes of path ("-" = stdin), refusing input over the cap.

    Raises:
        FormatError: the path cannot be read, or holds more than the cap.
    """
    cap = max_bytes_from_env() if max_bytes is None else max_bytes
    if path == "-":
        return _read(sys.stdin.buffer, "<stdin>", cap, 0)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below; plain open (no pathlib) for speed
    except OSError as exc:
        raise FormatError(path, f"cannot read ({exc.strerror or exc})") from None
    with fh:
        try:
            st = os.fstat(fh.fileno())
        except OSError as exc:
            raise FormatError(path, f"cannot read ({exc.strerror or exc})") from None
        if stat.S_ISDIR(st.st_mode):
            raise FormatError(path, "is a directory, not a file")
        hint = st.st_size if stat.S_ISREG(st.st_mode) else 0
        if hint > cap:
            raise FormatError(path, f"input is {hint} bytes, over the {cap}-byte limit")
        return _read(fh, path, cap, hint)


def _read(fh: BinaryIO, source: str, cap: int, hint: int) -> bytes:
    """Read fh to its end in pieces; FormatError once more than cap bytes came."""
    parts: list[bytes] = []
    size = 0
    want = min(hint + 1, cap + 1) if hint else min(_PIECE, cap + 1)
    try:
        while True:
            piece = fh.read(want)
            if not piece:
                break
            parts.append(piece)
            size += len(piece)
            if size > cap:
                raise FormatError(
                    source,
                    f"input is more than {cap} bytes (limit; set LEAKHUNTER_MAX_INPUT_BYTES "
                    "to raise it)",
                )
            want = min(_PIECE, cap + 1 - size)
    except OSError as exc:
        raise FormatError(source, f"cannot read ({exc.strerror or exc})") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)
