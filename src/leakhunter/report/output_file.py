"""Writing an output file the user named: atomically where that is safe, through otherwise.

A report path is often not a plain file: ``/dev/null``, ``/dev/stdout``, a
FIFO a CI step reads from, or a symlink into an artifacts folder. Renaming a
temp file over such a path replaces the node itself (as root it replaced
``/dev/full`` with a regular file). So:

- a regular file (or a new path) is written atomically, temp file + rename, so
  a reader never sees half a report; a symlink is followed and its target is
  replaced, the link stays;
- anything else (device, FIFO, socket) is opened and written through, and so
  is any path naming a file descriptor (/dev/stdout, /dev/fd/N, /proc/PID/fd/N),
  in append mode: it may be the very file the shell redirected stdout to;
- a directory is refused. Every failure is one :class:`OutputError` line.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

from leakhunter.collect.session import SessionWriteError, atomic_write
from leakhunter.errors import OutputError

__all__ = ["write_output", "write_stdout"]

# Paths that name an open file descriptor rather than a file.
_DESCRIPTORS = ("/dev/fd/", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/proc/")


def write_output(path: str | Path, data: bytes) -> Path:
    """Write data to the path the user named; return the file actually written.

    Raises:
        OutputError: the path is a directory or cannot be written.
    """
    named = os.path.abspath(os.fspath(path))
    real = os.path.realpath(named)
    try:
        st: os.stat_result | None = os.stat(named)
    except FileNotFoundError:
        st = None  # a new file, or a symlink to a file not yet there
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {path}: it is a directory")
    through = (st is not None and not stat.S_ISREG(st.st_mode)) or any(
        p.startswith(_DESCRIPTORS) for p in (named, real)
    )
    if st is not None and _is_stdout(st):
        write_stdout(data)  # /dev/stdout and the like: one stream, one offset, in order
        return Path(named)
    if through:
        _write_through(named, data, str(path))
        return Path(named)
    try:
        atomic_write(Path(real), data, fsync=False)
    except SessionWriteError as exc:
        raise OutputError(str(exc)) from None
    return Path(real)


def _is_stdout(st: os.stat_result) -> bool:
    """Return True when st is the file standard output writes to."""
    try:
        out = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (out.st_dev, out.st_ino) == (st.st_dev, st.st_ino)


def _write_through(path: str, data: bytes, shown: str) -> None:
    try:
        # O_APPEND: a regular file behind /dev/stdout is shared with stdout itself.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {_reason(exc)}") from None
    finally:
        os.close(fd)


def write_stdout(data: bytes) -> None:
    """Write bytes to standard output, after any text already printed.

    Raises:
        OutputError: standard output cannot take them (disk full, closed pipe).
    """
    try:
        sys.stdout.flush()  # keep order with text already printed
        raw = getattr(sys.stdout, "buffer", None)
        if raw is None:
            sys.stdout.write(data.decode("utf-8", "replace"))
            sys.stdout.flush()
        else:
            raw.write(data)
            raw.flush()
    except OSError as exc:
        raise OutputError(f"cannot write to standard output: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk full"
    return exc.strerror or str(exc)
