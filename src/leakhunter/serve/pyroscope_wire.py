"""Grafana Pyroscope's push request, built by hand: which profile goes under which labels.

The request is ``push.v1.PushRequest`` of Pyroscope's Connect API, posted to
``{url}/push.v1.PusherService/Push``. What this module follows, and where it
is written down:

- the messages, from ``api/push/v1/push.proto`` and ``api/types/v1/types.proto``
  in github.com/grafana/pyroscope: ``PushRequest{repeated RawProfileSeries
  series = 1}``, ``RawProfileSeries{repeated LabelPair labels = 1; repeated
  RawSample samples = 2}``, ``RawSample{bytes raw_profile = 1; string ID = 2}``,
  ``LabelPair{string name = 1; string value = 2}``;
- the transport, from Pyroscope's "Server HTTP API" reference (the Connect
  protocol: a unary POST whose body is the binary protobuf with
  ``Content-Type: application/proto``; the tenant in ``X-Scope-OrgID``) and the
  Connect protocol reference (connectrpc.com/docs/protocol: errors come back
  as an HTTP status with a JSON ``{"code", "message"}`` body);
- the labels, from what Grafana Alloy's ``pyroscope.scrape`` sends for Go's
  endpoints (internal/component/pyroscope/scrape in github.com/grafana/alloy):
  ``__name__`` is the profile's name, ``memory`` for the heap profile
  (Alloy reads it at ``/debug/pprof/allocs``, the same four sample types) and
  ``goroutine`` for the goroutine profile, plus ``service_name`` and the
  target's labels. No ``__delta__`` label: the heap's ``alloc_*`` values are
  cumulative since the process started, and Pyroscope turns a ``memory``
  series into deltas itself unless ``__delta__="false"`` says the client
  already did (Alloy sets it only after computing deltas of its own).

The profile bytes are sent exactly as the target served them (gzipped pprof);
one ``RawSample`` per series, with a random UUID as its ID. Only this format
is tested here (a receiver decodes the request with the protobuf library):
no Pyroscope server runs where this was built.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "PROFILE_NAMES",
    "PUSH_PATH",
    "Series",
    "encode_push",
    "make_series",
    "series_labels",
    "service_name",
]

#: the Connect method's path, appended to the Pyroscope URL
PUSH_PATH = "/push.v1.PusherService/Push"
#: leakhunter's profile kind -> Pyroscope's ``__name__`` (what Alloy uses for Go)
PROFILE_NAMES: Mapping[str, str] = {"heap": "memory", "goroutine": "goroutine"}

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Series:
    """One profile under its labels (sorted by name), as one ``RawProfileSeries``."""

    labels: tuple[tuple[str, str], ...]
    profile: bytes
    id: str

    @property
    def size(self) -> int:
        """Return roughly how many bytes the series adds to a request."""
        return len(self.profile) + sum(len(n) + len(v) + 8 for n, v in self.labels) + 64


def service_name(url: str, labels: Mapping[str, str]) -> str:
    """Return the target's ``service_name``: its own label, else one built from its labels.

    In order: ``service_name``; ``namespace/app`` (or ``namespace/container``)
    for a pod, as Alloy's Kubernetes examples name services; ``app``; ``job``;
    else the target's host:port, so every series has a name.
    """
    if labels.get("service_name"):
        return labels["service_name"]
    workload = labels.get("app") or labels.get("container")
    if labels.get("namespace") and workload:
        return f"{labels['namespace']}/{workload}"
    for key in ("app", "job"):
        if labels.get(key):
            return labels[key]
    return urlsplit(url).netloc.rpartition("@")[2] or url


def series_labels(kind: str, url: str, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Return the labels of one profile of a target: ``__name__``, service, instance, its own.

    Target labels whose names Prometheus would refuse, or that start with
    ``__`` (reserved), are left out; empty values are left out (absent).
    """
    own = {k: v for k, v in labels.items() if v and _LABEL.match(k) and not k.startswith("__")}
    own["__name__"] = PROFILE_NAMES[kind]
    own["service_name"] = service_name(url, labels)
    own.setdefault("instance", urlsplit(url).netloc.rpartition("@")[2] or url)
    return tuple(sorted(own.items()))


def make_series(url: str, labels: Mapping[str, str], blobs: Mapping[str, bytes]) -> list[Series]:
    """Return one series per exported kind the snapshot holds (heap, goroutine)."""
    return [
        Series(series_labels(kind, url, labels), blobs[kind], str(uuid.uuid4()))
        for kind in PROFILE_NAMES
        if blobs.get(kind)
    ]


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """Return one length-delimited field (wire type 2: strings, bytes, messages)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _series(s: Series) -> bytes:
    labels = b"".join(_field(1, _field(1, n.encode()) + _field(2, v.encode())) for n, v in s.labels)
    sample = _field(2, _field(1, s.profile) + _field(2, s.id.encode()))
    return labels + sample


def encode_push(series: Iterable[Series]) -> bytes:
    """Return the binary protobuf of a ``PushRequest`` holding these series."""
    return b"".join(_field(1, _series(s)) for s in series)
