"""Where a goroutine dump comes from: a file, stdin ("-"), or a pprof HTTP endpoint.

A bare ``host:port`` or a URL without a path means the service's full dump,
``/debug/pprof/goroutine?debug=2``; a URL with a path is fetched as given (the
format is sniffed from the answer). The HTTP client is imported only for URLs,
so reading a file stays quick to start.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from leakhunter.formats.bounded_read import read_capped
from leakhunter.formats.goroutine_text import load_dump
from leakhunter.model.goroutine import GoroutineDump

__all__ = ["DUMP_PATH", "dump_url", "read_dump", "read_source"]

#: The endpoint net/http/pprof serves full goroutine dumps on.
DUMP_PATH = "/debug/pprof/goroutine"

_HOST_PORT = re.compile(r"(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}(?:/.*)?")


def dump_url(source: str) -> str | None:
    """Return the URL to fetch for SOURCE, or None when SOURCE names a file."""
    if source.startswith(("http://", "https://")):
        parts = urlsplit(source)
        if parts.path in ("", "/") and not parts.query:
            return urlunsplit(parts._replace(path=DUMP_PATH, query="debug=2"))
        return source
    if _HOST_PORT.fullmatch(source) and not os.path.exists(source):
        return dump_url("http://" + source)
    return None


def read_source(source: str, *, timeout: float = 30.0) -> bytes:
    """Return the raw bytes of SOURCE (file, "-" for stdin, or URL).

    Raises:
        FormatError: the file cannot be read.
        TargetError: the URL cannot be fetched (one line: refused, timeout, HTTP status).
    """
    url = dump_url(source)
    if url is not None:
        from leakhunter.collect.fetch import Fetcher, FetchOptions

        with Fetcher(FetchOptions(timeout=timeout, retries=1)) as fetcher:
            return fetcher.get(url).content
    return read_capped(source)  # "-" is stdin; FIFOs and devices are capped too


def read_dump(
    source: str,
    *,
    timeout: float = 30.0,
    max_bytes: int | None = None,
    keep_goroutines: bool = True,
) -> GoroutineDump:
    """Read and parse the goroutine dump SOURCE names (see :func:`read_source`).

    Raises:
        FormatError: unreadable, or not a goroutine dump.
        TargetError: the URL cannot be fetched.
    """
    data = read_source(source, timeout=timeout)
    return load_dump(data, source, max_bytes=max_bytes, keep_goroutines=keep_goroutines)
