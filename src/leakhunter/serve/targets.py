"""What serve watches: a target's URL, labels and per-target options.

Targets come only from configuration (a file_sd file, an http_sd URL, the
Kubernetes API): nothing a client of serve sends makes it fetch a URL of its
choosing. A target's id is derived from its URL alone, so a reload that only
changes labels or options keeps the target's state (series, findings).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from leakhunter.collect.fetch import FetchOptions

__all__ = ["TargetSpec", "target_id"]

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def target_id(url: str) -> str:
    """Return a stable, URL-safe id for a target URL (host-port plus a short hash)."""
    parts = urlsplit(url)
    host = _UNSAFE.sub("-", parts.netloc.rpartition("@")[2]).strip("-") or "target"
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{host[:48]}-{digest}"


@dataclass(frozen=True)
class TargetSpec:
    """One target as configured.

    ``url`` is the base URL (``scheme://host:port`` plus an optional path prefix
    before ``/debug/pprof``), without credentials; ``labels`` are the exported
    labels (meta labels ``__*__`` removed); ``interval`` is None for serve's
    default; ``fetch`` carries headers, token, TLS and basic auth (never shown);
    ``source`` says where the target came from ("file_sd:PATH", "http_sd:URL",
    "kubernetes").
    """

    url: str
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    interval: float | None = None
    fetch: FetchOptions = field(default_factory=FetchOptions)
    source: str = ""

    @property
    def id(self) -> str:
        """Return the target's stable id (from its URL only)."""
        return target_id(self.url)
