"""Where serve's targets come from: the Discovery seam, file_sd and http_sd.

Every source of targets (a file_sd file, an http_sd URL, the Kubernetes API in
leakhunter.serve.kubernetes) is a :class:`Discovery`: ``poll()`` returns the
whole current list of targets, or None when nothing changed since the last
poll, or raises :class:`DiscoveryError` (one line) when the file or answer is
bad. The caller keeps running the last good list on an error, so a half-saved
file or a flaky endpoint never stops the watching of healthy targets; it
reconciles (start the new, stop the gone, keep the unchanged) only on a list.

Both sources here read Prometheus's target-group shape; what the meta labels
mean is in leakhunter.serve.target_groups.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Protocol

import yaml

from leakhunter.collect.fetch import Fetcher, FetchError, FetchOptions
from leakhunter.errors import LeakhunterError
from leakhunter.serve.target_groups import GroupError, Parsed, parse_groups
from leakhunter.serve.targets import TargetSpec
from leakhunter.urls import redact, split_credentials

__all__ = ["Discovery", "DiscoveryError", "FileSD", "HttpSD"]

_FILE_MAX = 16 << 20
_HTTP_SD_MAX = 8 << 20
_Stat = tuple[int, int, int, int, int] | None


class DiscoveryError(LeakhunterError):
    """A targets file or discovery answer that cannot be used, as one line."""


class Discovery(Protocol):
    """A source of targets that serve polls.

    ``name`` says where targets come from (for logs and the UI); ``interval``
    is how many seconds to wait between polls; ``warnings`` are the notes of
    the last load (repeated URLs, skipped pods, ignored labels), for the caller
    to log when poll() returns a list.
    """

    name: str
    interval: float
    warnings: tuple[str, ...]

    def poll(self) -> list[TargetSpec] | None:
        """Return every current target, or None if unchanged since the last poll.

        Raises:
            DiscoveryError: the file or answer is bad (the last good list stands).
        """
        ...


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def decode(data: bytes, name: str, *, yaml_ok: bool) -> object:
    """Decode JSON (or YAML when ``yaml_ok``); errors are one line naming ``name``."""
    text = data.decode("utf-8", "replace")
    if not yaml_ok:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DiscoveryError(f"{name}: not valid JSON: {_one_line(str(exc))}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise DiscoveryError(f"{name}: not valid YAML{where}: {_one_line(problem)}") from None


def _stat(path: Path) -> _Stat:
    """Return what tells a changed file: mtime, ctime (chmod), size, inode, device."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


class FileSD:
    """Targets from a Prometheus file_sd file (JSON or YAML), re-read only when it changed.

    Polling costs a stat of the file and of the files its labels read (token,
    CA, ``@file`` headers), so a rotated token is picked up without touching
    the targets file. The file is JSON when named ``*.json``, YAML when named
    ``*.yml``/``*.yaml``, else sniffed (JSON if it starts with ``[``). A bad
    file raises once per change (it is re-read only when something changes);
    ``error`` keeps the current problem, None once the file is good again.
    Relative paths in labels start at the file's folder.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        defaults: FetchOptions | None = None,
        interval: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.name = f"file_sd:{self.path}"
        self.interval = interval
        self.warnings: tuple[str, ...] = ()
        self.error: str | None = None
        self._defaults = defaults or FetchOptions()
        self._files: tuple[Path, ...] = ()
        self._seen: tuple[_Stat, tuple[_Stat, ...]] | None = None
        self._last: tuple[TargetSpec, ...] | None = None

    def _signature(self) -> tuple[_Stat, tuple[_Stat, ...]]:
        return _stat(self.path), tuple(_stat(f) for f in self._files)

    def poll(self) -> list[TargetSpec] | None:
        """Return the targets when the file (or a file it reads) changed, else None.

        Raises:
            DiscoveryError: the file cannot be read or is not valid target groups.
        """
        signature = self._signature()
        if signature == self._seen:
            return None
        try:
            parsed = self._load()
        except DiscoveryError as exc:
            # Reported once per change: retried when the file, or the file at fault, changes.
            self.error = str(exc)
            self._seen = (signature[0], tuple(_stat(f) for f in self._files))
            raise
        self.error = None
        self._files = parsed.files
        self._seen = (signature[0], tuple(_stat(f) for f in parsed.files))
        self.warnings = tuple(f"{self.path}: {w}" for w in parsed.warnings)
        if parsed.targets == self._last:
            return None
        self._last = parsed.targets
        return list(parsed.targets)

    def _load(self) -> Parsed:
        try:
            with self.path.open("rb") as fh:
                data = fh.read(_FILE_MAX + 1)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DiscoveryError(f"cannot read targets file {self.path}: {reason}") from None
        if len(data) > _FILE_MAX:
            raise DiscoveryError(f"{self.path}: larger than {_FILE_MAX >> 20} MiB")
        if not data.strip():
            raise DiscoveryError(f"{self.path}: empty (write [] for no targets)")
        suffix = self.path.suffix.lower()
        yaml_ok = suffix in (".yml", ".yaml") or (
            suffix != ".json" and not data.lstrip().startswith(b"[")
        )
        doc = decode(data, str(self.path), yaml_ok=yaml_ok)
        try:
            return parse_groups(
                doc, source=self.name, defaults=self._defaults, base_dir=self.path.parent
            )
        except GroupError as exc:
            if exc.path is not None and exc.path not in self._files:
                self._files = (*self._files, exc.path)
            raise DiscoveryError(f"{self.path}: {exc}") from None


class HttpSD:
    """Targets from a Prometheus http_sd endpoint: GET, 200, a JSON list of target groups.

    ``fetch_options`` are for the discovery request itself (its body is capped
    at 8 MiB); ``defaults`` are every target's starting fetch options. The
    answer comes from another machine, so it may not make serve read local
    files: ``__token_file__``, ``__ca_file__`` and ``@file`` header values are
    refused (the whole answer, as one DiscoveryError). Secrets for its
    targets belong in ``defaults``, which serve's own configuration sets; note
    that those go to whatever hosts the answer names, as with any discovery.
    An answer identical to the last good one returns None without parsing.
    """

    def __init__(
        self,
        url: str,
        refresh: float = 60.0,
        fetch_options: FetchOptions | None = None,
        *,
        defaults: FetchOptions | None = None,
    ) -> None:
        clean, auth = split_credentials(url)
        opts = fetch_options or FetchOptions(timeout=10.0, retries=1)
        headers = (*opts.headers, ("X-Prometheus-Refresh-Interval-Seconds", f"{refresh:g}"))
        self._options = dataclasses.replace(
            opts,
            max_bytes=min(opts.max_bytes, _HTTP_SD_MAX),
            headers=headers,
            basic_auth=auth or opts.basic_auth,
        )
        self.url = clean
        self.name = f"http_sd:{redact(clean)}"
        self.interval = refresh
        self.warnings: tuple[str, ...] = ()
        self._defaults = defaults or FetchOptions()
        self._digest: bytes | None = None

    def poll(self) -> list[TargetSpec] | None:
        """Return the targets when the answer changed, else None.

        Raises:
            DiscoveryError: the request failed, or the answer is not 200 with a
                JSON list of valid target groups.
        """
        try:
            with Fetcher(self._options) as fetcher:
                resp = fetcher.get(self.url)
        except FetchError as exc:
            raise DiscoveryError(f"{self.name}: {exc}") from None
        if resp.status != 200:
            raise DiscoveryError(f"{self.name}: answered HTTP {resp.status}, not 200")
        digest = hashlib.sha256(resp.content).digest()
        if digest == self._digest:
            return None
        doc = decode(resp.content, self.name, yaml_ok=False)
        try:
            parsed = parse_groups(doc, source=self.name, defaults=self._defaults, base_dir=None)
        except GroupError as exc:
            raise DiscoveryError(f"{self.name}: {exc}") from None
        self._digest = digest
        self.warnings = tuple(f"{self.name}: {w}" for w in parsed.warnings)
        return list(parsed.targets)
