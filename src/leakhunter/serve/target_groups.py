"""Prometheus target groups (the file_sd / http_sd shape) turned into TargetSpec values.

A group is ``{"targets": ["host:port" | URL, ...], "labels": {...}}``. Labels
named ``__*__`` are meta labels: they configure how the group's targets are
fetched and are never exported. Ours:

- ``__scheme__``: ``http`` (default) or ``https``;
- ``__path_prefix__``: the path before ``/debug/pprof`` (default none);
- ``__interval__``: the target's own scrape interval ("15s", "1m");
- ``__token_file__``: a bearer token, read from that file at load;
- ``__ca_file__``: a CA bundle to verify the target's certificate;
- ``__insecure_skip_verify__``: ``"true"`` to skip certificate checks;
- ``__header_<name>__``: header ``<name>`` (``_`` becomes ``-``); a value
  ``@PATH`` is read from that file (a secret kept out of the targets file).

Paths are relative to the targets file's folder. Other Prometheus meta labels
(``__meta_*``, ``__param_*``, ``__metrics_path__``, ``__scrape_interval__``...)
are dropped quietly, so a file shared with Prometheus works; ``__scrape_interval__``
is not our interval on purpose: Prometheus intervals (15 s) are far shorter than
a heap?gc=1 target should see. An unknown ``__x__`` is dropped with a warning
(a typo like ``__schema__`` should not pass unseen).

A target may be a full URL (``https://h:6060/admin``): its own scheme and path
win over the labels. Credentials in it go to FetchOptions.basic_auth, never
into the spec's URL. Secrets (tokens, ``@file`` header values, passwords) never
appear in a message, a label or a repr.
"""

from __future__ import annotations

import dataclasses
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit, urlunsplit

from leakhunter.collect.fetch import FetchOptions
from leakhunter.serve.targets import TargetSpec
from leakhunter.units import parse_duration
from leakhunter.urls import split_credentials

__all__ = [
    "RESERVED_LABELS",
    "GroupError",
    "Parsed",
    "base_url",
    "parse_groups",
    "path_prefix",
    "read_secret",
]

#: Label names serve sets on its own series; a target label of that name is dropped.
RESERVED_LABELS = frozenset({"target", "kind", "culprit", "rule", "unit"})

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_QUIET_PREFIXES = ("__meta_", "__tmp_", "__param_")
_QUIET = frozenset({"__address__", "__metrics_path__", "__scrape_interval__", "__scrape_timeout__"})
_LOCAL_FILE_LABELS = ("__token_file__", "__ca_file__")
_SECRET_MAX = 64 << 10


class GroupError(ValueError):
    """One problem in a list of target groups, as one line ("group 2: ...").

    ``path`` is the local file at fault (a token file not readable yet), so a
    file watcher can retry when that file changes.
    """

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path

    def within(self, where: str) -> GroupError:
        """Return the same problem with a location prefixed ("group 2: ...")."""
        return GroupError(f"{where}: {self}", self.path)


@dataclass(frozen=True, slots=True)
class Parsed:
    """Targets from a list of groups, what was skipped or repeated, and local files read."""

    targets: tuple[TargetSpec, ...]
    warnings: tuple[str, ...]
    files: tuple[Path, ...]


def read_secret(path: Path, what: str) -> str:
    """Return a secret file's text, stripped; the message on failure never shows content.

    Raises:
        GroupError: unreadable, empty, or larger than 64 KiB (a token, not a dump).
    """
    try:
        with path.open("rb") as fh:
            data = fh.read(_SECRET_MAX + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise GroupError(f"cannot read {what} {path}: {reason}", path) from None
    if len(data) > _SECRET_MAX:
        raise GroupError(f"{what} {path} is larger than 64 KiB", path)
    text = data.decode("utf-8", "replace").strip()
    if not text:
        raise GroupError(f"{what} {path} is empty", path)
    return text


def path_prefix(path: str) -> str:
    """Return the path before ``/debug/`` (as collect's target_base cuts it): "/admin" or ""."""
    if any(c.isspace() or c in "?#" for c in path):
        raise GroupError(f"path {path[:40]!r} may not contain spaces, ? or #")
    path = "/" + path.lstrip("/")
    cut = path.find("/debug/")
    return (path[:cut] if cut >= 0 else path).rstrip("/")


def base_url(scheme: str, netloc: str, path: str) -> str:
    """Return ``scheme://netloc/prefix`` (see path_prefix), host in lower case."""
    return urlunsplit((scheme, netloc.lower(), path_prefix(path), "", ""))


def _shown(raw: str) -> str:
    """Return a target as it may be shown: user:password replaced, length capped."""
    head, at, tail = raw.rpartition("@")
    if at:
        scheme = head.split("://", 1)[0] + "://" if "://" in head else ""
        raw = f"{scheme}***@{tail}"
    return repr(raw[:80])


def _target(raw: object, scheme: str, prefix: str) -> tuple[str, tuple[str, str] | None]:
    """Return (base URL without credentials, basic auth) for one target entry."""
    if not isinstance(raw, str) or not raw.strip():
        raise GroupError(f"not a target: {type(raw).__name__} {str(raw)[:40]!r}")
    if any(c.isspace() for c in raw):
        raise GroupError(f"target {_shown(raw)} contains whitespace")
    clean, auth = split_credentials(raw)
    if "://" not in clean:
        if "/" in clean:
            raise GroupError(
                f"target {_shown(raw)} has a path: write a full URL or use __path_prefix__"
            )
        clean = f"{scheme}://{clean}{prefix}"
    parts = urlsplit(clean)
    if parts.scheme not in ("http", "https"):
        raise GroupError(f"target {_shown(raw)}: scheme must be http or https")
    if parts.query or parts.fragment:
        raise GroupError(f"target {_shown(raw)} has a query or fragment")
    try:
        port = parts.port
    except ValueError:
        raise GroupError(f"target {_shown(raw)} has a bad port") from None
    if not parts.hostname or port == 0:
        raise GroupError(f"target {_shown(raw)} needs a host (and a port from 1 to 65535)")
    return base_url(parts.scheme, parts.netloc, parts.path), auth


@dataclass(slots=True)
class _Meta:
    """A group's meta labels, checked; ``files`` are the local files they read."""

    scheme: str = "http"
    prefix: str = ""
    interval: float | None = None
    fetch: FetchOptions = dataclasses.field(default_factory=FetchOptions)
    files: list[Path] = dataclasses.field(default_factory=list)


def _meta(
    labels: Mapping[str, str], defaults: FetchOptions, base_dir: Path | None, warn: list[str]
) -> _Meta:
    """Return the group's meta settings; local file labels only when base_dir is given."""
    meta = _Meta(fetch=defaults)
    headers = dict(defaults.headers)
    for name, value in labels.items():
        if not name.startswith("__"):
            continue
        if base_dir is None and (
            name in _LOCAL_FILE_LABELS or (name.startswith("__header_") and value.startswith("@"))
        ):
            raise GroupError(f"{name} names a local file, which only a local targets file may do")
        if name == "__scheme__":
            if value not in ("http", "https"):
                raise GroupError(f"__scheme__ must be http or https, not {value[:40]!r}")
            meta.scheme = value
        elif name == "__path_prefix__":
            meta.prefix = path_prefix(value)
        elif name == "__interval__":
            try:
                meta.interval = parse_duration(value)
            except ValueError as exc:
                raise GroupError(f"__interval__: {exc}") from None
        elif name == "__insecure_skip_verify__":
            if value not in ("true", "false"):
                raise GroupError(f"__insecure_skip_verify__ must be true or false, not {value!r}")
            meta.fetch = dataclasses.replace(meta.fetch, insecure=value == "true")
        elif name in _LOCAL_FILE_LABELS and base_dir is not None:
            _file_label(meta, name, base_dir / value)
        elif name.startswith("__header_") and name.endswith("__") and len(name) > 11:
            header, text = _header(meta, name, value, base_dir)
            headers = {k: v for k, v in headers.items() if k.lower() != header.lower()}
            headers[header] = text
        elif not (name in _QUIET or name.startswith(_QUIET_PREFIXES)):
            warn.append(f"unknown meta label {name} ignored")
    if headers != dict(defaults.headers):
        meta.fetch = dataclasses.replace(meta.fetch, headers=tuple(headers.items()))
    return meta


def _file_label(meta: _Meta, name: str, path: Path) -> None:
    """Apply ``__token_file__`` or ``__ca_file__`` (read now: a bad file fails the load)."""
    meta.files.append(path)
    if name == "__token_file__":
        token = read_secret(path, "__token_file__")
        meta.fetch = dataclasses.replace(meta.fetch, bearer_token=token)
        return
    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise GroupError(f"cannot load __ca_file__ {path}: {exc}", path) from None
    meta.fetch = dataclasses.replace(meta.fetch, ca_file=str(path))


def _header(meta: _Meta, name: str, value: str, base_dir: Path | None) -> tuple[str, str]:
    """Return (header name, value) of a ``__header_<name>__`` label; ``@PATH`` is read."""
    header = name[len("__header_") : -2].replace("_", "-")
    if not _HEADER_NAME.match(header):
        raise GroupError(f"{name}: {header!r} is not a header name")
    if value.startswith("@") and base_dir is not None:
        path = base_dir / value[1:]
        meta.files.append(path)
        value = read_secret(path, f"{name} file")
    if "\r" in value or "\n" in value:
        raise GroupError(f"{name}: a header value may not span lines")
    return header, value


def _labels(raw: object) -> dict[str, str]:
    """Return a group's labels as strings (YAML's unquoted true and 8080 read as text)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise GroupError(f'"labels" must be a mapping, not {type(raw).__name__}')
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _LABEL_NAME.match(name):
            raise GroupError(f"label name {str(name)[:40]!r} is not [A-Za-z_][A-Za-z0-9_]*")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int):
            value = str(value)
        if not isinstance(value, str):
            raise GroupError(f"label {name!r} must be a string, not {type(value).__name__}")
        out[name] = value
    return out


def _group(
    i: int,
    group: object,
    *,
    source: str,
    defaults: FetchOptions,
    base_dir: Path | None,
    warn: list[str],
) -> tuple[list[TargetSpec], list[Path]]:
    if not isinstance(group, dict):
        raise GroupError(f"group {i}: not a mapping with targets and labels")
    targets = group.get("targets")
    if not isinstance(targets, list) or not targets:
        raise GroupError(f'group {i}: "targets" must be a non-empty list')
    try:
        labels = _labels(group.get("labels"))
        notes: list[str] = []
        meta = _meta(labels, defaults, base_dir, notes)
    except GroupError as exc:
        raise exc.within(f"group {i}") from None
    warn.extend(f"group {i}: {note}" for note in notes)
    exported = {k: v for k, v in sorted(labels.items()) if not k.startswith("__")}
    for name in sorted(RESERVED_LABELS & exported.keys()):
        warn.append(f"group {i}: label {name!r} is set by serve itself; ignored")
        del exported[name]
    frozen = MappingProxyType(exported)
    specs = []
    for j, raw in enumerate(targets):
        try:
            url, auth = _target(raw, meta.scheme, meta.prefix)
        except GroupError as exc:
            raise exc.within(f"group {i}, target {j}") from None
        fetch = meta.fetch if auth is None else dataclasses.replace(meta.fetch, basic_auth=auth)
        specs.append(TargetSpec(url, frozen, meta.interval, fetch, source))
    return specs, meta.files


def parse_groups(
    data: object,
    *,
    source: str,
    defaults: FetchOptions | None = None,
    base_dir: Path | None = None,
) -> Parsed:
    """Turn decoded file_sd/http_sd data into targets; the first of a repeated URL wins.

    ``defaults`` are the fetch options every target starts from. ``base_dir``
    is where relative paths of file labels start; None refuses those labels
    (``__token_file__``, ``__ca_file__``, ``@file`` headers), as an http_sd
    answer must not make serve read local files.

    Raises:
        GroupError: the data is not a list of valid groups; one line naming the
            group (and target) index.
    """
    if not isinstance(data, list):
        raise GroupError(f"not a list of target groups (found {type(data).__name__})")
    defaults = defaults or FetchOptions()
    warn: list[str] = []
    seen: dict[str, str] = {}
    out: list[TargetSpec] = []
    files: list[Path] = []
    for i, group in enumerate(data):
        specs, used = _group(
            i, group, source=source, defaults=defaults, base_dir=base_dir, warn=warn
        )
        files.extend(used)
        for j, spec in enumerate(specs):
            where = f"group {i}, target {j}"
            if spec.url in seen:
                warn.append(f"{where}: {spec.url} repeats {seen[spec.url]}; the first is kept")
                continue
            seen[spec.url] = where
            out.append(spec)
    return Parsed(tuple(out), tuple(warn), tuple(dict.fromkeys(files)))
