"""Pod discovery through the Kubernetes API: running, annotated pods become targets.

``KubernetesSD`` lists pods (``GET /api/v1/pods``, or per namespace, with an
optional label selector, in pages of 500) and keeps the Running ones with a
pod IP that ask to be watched, by either of:

- leakhunter's own annotations: ``leakhunter.io/scrape: "true"`` plus optional
  ``leakhunter.io/port`` (a number or a container port's name),
  ``leakhunter.io/path`` (the path before ``/debug/pprof``),
  ``leakhunter.io/scheme`` (http or https) and ``leakhunter.io/interval``
  ("1m"). ``leakhunter.io/scrape: "false"`` opts a pod out of everything.
- Grafana Pyroscope/Alloy's: ``profiles.grafana.com/memory.scrape: "true"`` or
  ``profiles.grafana.com/goroutine.scrape: "true"``, with that kind's
  ``.port`` (a number; it wins over ``.port_name``, as in Alloy's relabel
  rules), ``.port_name`` (a container port's name), ``.scheme`` and ``.path``.
  Alloy's ``.path`` is the profile's own path (``/debug/pprof/heap``); serve
  keeps the part before ``/debug/pprof`` and skips a pod whose path is not
  under it (leakhunter needs the standard endpoints). Memory's annotations are
  read before goroutine's.

Without a port the first container port named like ``*pprof*``, then
``http*``, then the first TCP port is used; a pod with none is skipped with a
reason in ``warnings``, as is one with a bad annotation: one broken pod does
not stop the others. Labels: ``namespace``, ``pod``, ``node``, ``container``
(owner of the port) and ``app`` (``app.kubernetes.io/name``, else ``app``).

Targets get the ``defaults`` fetch options, never the API credentials: the
cluster token must not go to every pod.

Tested only against recorded API responses (v1 PodList JSON served by a local
HTTP server), not against a live cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote, urlencode

from leakhunter.collect.fetch import Fetcher, FetchError, FetchOptions
from leakhunter.serve.discovery import DiscoveryError
from leakhunter.serve.kubeconfig import KubeConfig
from leakhunter.serve.target_groups import GroupError, path_prefix
from leakhunter.serve.targets import TargetSpec
from leakhunter.units import parse_duration

__all__ = ["KubernetesSD", "pod_targets"]

_LH = "leakhunter.io/"
_PYRO = "profiles.grafana.com/"
_PYRO_KINDS = ("memory", "goroutine")
_MAX_PAGES = 1000


@dataclass(frozen=True, slots=True)
class _Ask:
    """What a pod's annotations ask for (raw text, checked later)."""

    via: str
    port: str | None = None
    port_name: str | None = None
    path: str | None = None
    scheme: str | None = None
    interval: str | None = None


def _ask(ann: Mapping[str, str]) -> _Ask | None:
    """Return what the pod asks for, or None when it does not ask to be watched."""
    own = ann.get(_LH + "scrape", "").strip().lower()
    if own == "false":
        return None
    if own == "true":
        port = ann.get(_LH + "port")
        numeric = port is None or port.isdigit()
        return _Ask(
            via=_LH + "scrape",
            port=port if numeric else None,
            port_name=None if numeric else port,
            path=path_prefix(ann[_LH + "path"]) if ann.get(_LH + "path") else None,
            scheme=ann.get(_LH + "scheme"),
            interval=ann.get(_LH + "interval"),
        )
    for kind in _PYRO_KINDS:
        key = f"{_PYRO}{kind}."
        if ann.get(key + "scrape", "").strip().lower() == "true":
            path = ann.get(key + "path")
            if path and "/debug/pprof" not in path:
                raise GroupError(f"{key}path {path[:60]!r} is not under /debug/pprof")
            return _Ask(
                via=key + "scrape",
                port=ann.get(key + "port"),
                port_name=ann.get(key + "port_name"),
                path=path_prefix(path.split("/debug/pprof", 1)[0]) if path else None,
                scheme=ann.get(key + "scheme"),
            )
    return None


def _ports(spec: Mapping[str, object]) -> Iterator[tuple[str, str, int, str]]:
    """Yield (container, port name, number, protocol) of every declared container port."""
    for c in _list(spec.get("containers")):
        for p in _list(c.get("ports")):
            number = p.get("containerPort")
            if isinstance(number, int) and not isinstance(number, bool):
                proto = str(p.get("protocol") or "TCP")
                yield str(c.get("name", "")), str(p.get("name", "")), number, proto


def _choose_port(spec: Mapping[str, object], ask: _Ask) -> tuple[int, str]:
    """Return (port, container) for the pod; GroupError says why there is none."""
    ports = [p for p in _ports(spec) if p[3] == "TCP"]
    first_container = next((str(c.get("name", "")) for c in _list(spec.get("containers"))), "")
    if ask.port is not None:
        if not ask.port.isdigit() or not 0 < int(ask.port) < 65536:
            raise GroupError(f"port {ask.port[:20]!r} is not a port number")
        number = int(ask.port)
        owner = next((c for c, _, n, _ in ports if n == number), first_container)
        return number, owner
    if ask.port_name is not None:
        for container, name, number, _ in ports:
            if name == ask.port_name:
                return number, container
        raise GroupError(f"no container port named {ask.port_name[:40]!r}")
    for test in (lambda n: "pprof" in n, lambda n: n.startswith("http"), lambda n: True):
        for container, name, number, _ in ports:
            if test(name.lower()):
                return number, container
    raise GroupError("no container port: set a port annotation or declare a containerPort")


def _target(pod: Mapping[str, object], defaults: FetchOptions) -> TargetSpec | None:
    """Return the pod's target, None when not asked for or not running; GroupError if bad."""
    meta, spec, status = (_dict(pod.get(k)) for k in ("metadata", "spec", "status"))
    if status.get("phase") != "Running" or not status.get("podIP"):
        return None  # checked first: a pending pod's bad annotation is not news yet
    ask = _ask(_strings(meta.get("annotations")))
    if ask is None:
        return None
    port, container = _choose_port(spec, ask)
    scheme = (ask.scheme or "http").strip().lower()
    if scheme not in ("http", "https"):
        raise GroupError(f"scheme {scheme[:20]!r} is not http or https")
    interval = None
    if ask.interval:
        try:
            interval = parse_duration(ask.interval)
        except ValueError as exc:
            raise GroupError(f"{_LH}interval: {exc}") from None
    ip = str(status["podIP"])
    host = f"[{ip}]" if ":" in ip else ip
    pod_labels = _strings(meta.get("labels"))
    labels = {
        "namespace": str(meta.get("namespace", "")),
        "pod": str(meta.get("name", "")),
        "node": str(spec.get("nodeName", "")),
        "container": container,
        "app": pod_labels.get("app.kubernetes.io/name") or pod_labels.get("app", ""),
    }
    exported = MappingProxyType({k: v for k, v in labels.items() if v})
    url = f"{scheme}://{host}:{port}{ask.path or ''}"
    return TargetSpec(url, exported, interval, defaults, "kubernetes")


def pod_targets(
    items: Sequence[object], defaults: FetchOptions | None = None
) -> tuple[list[TargetSpec], list[str]]:
    """Return the targets of a PodList's items and why pods that asked were skipped."""
    defaults = defaults or FetchOptions()
    out: list[TargetSpec] = []
    notes: list[str] = []
    seen: dict[str, str] = {}
    for i, pod in enumerate(items):
        meta = _dict(_dict(pod).get("metadata"))
        where = f"pod {meta.get('namespace', '?')}/{meta.get('name', f'#{i}')}"
        try:
            spec = _target(_dict(pod), defaults)
        except GroupError as exc:
            notes.append(f"{where}: {exc}; skipped")
            continue
        if spec is None:
            continue
        if spec.url in seen:  # hostNetwork pods share their node's IP
            notes.append(f"{where}: {spec.url} is already {seen[spec.url]}'s; skipped")
            continue
        seen[spec.url] = where
        out.append(spec)
    return out, notes


class KubernetesSD:
    """Targets from the pods of a Kubernetes cluster (see the module docstring).

    ``namespaces`` empty means all (the role then needs cluster-wide
    ``list pods``); ``label_selector`` is the API's (``app=cart,tier!=db``).
    """

    def __init__(
        self,
        config: KubeConfig,
        *,
        namespaces: Sequence[str] = (),
        label_selector: str | None = None,
        interval: float = 30.0,
        defaults: FetchOptions | None = None,
        page_size: int = 500,
    ) -> None:
        self.config = config
        self.name = "kubernetes"
        self.interval = interval
        self.warnings: tuple[str, ...] = ()
        self._namespaces = tuple(namespaces)
        self._selector = label_selector
        self._defaults = defaults or FetchOptions()
        self._page_size = page_size
        self._last: list[TargetSpec] | None = None

    def poll(self) -> list[TargetSpec] | None:
        """Return the targets when they changed since the last poll, else None.

        Raises:
            DiscoveryError: the API cannot be reached, refuses, or answers
                something that is not a PodList.
        """
        items = self._list_pods()
        targets, notes = pod_targets(items, self._defaults)
        self.warnings = tuple(f"kubernetes: {n}" for n in notes)
        if targets == self._last:
            return None
        self._last = targets
        return list(targets)

    def _paths(self) -> list[str]:
        if not self._namespaces:
            return ["/api/v1/pods"]
        return [f"/api/v1/namespaces/{quote(ns, safe='')}/pods" for ns in self._namespaces]

    def _list_pods(self) -> list[object]:
        """Return every pod's object from every page of every path."""
        items: list[object] = []
        with self.config.fetcher() as fetcher:
            for path in self._paths():
                token = ""
                for _ in range(_MAX_PAGES):
                    query: dict[str, str | int] = {"limit": self._page_size}
                    if self._selector:
                        query["labelSelector"] = self._selector
                    if token:
                        query["continue"] = token
                    page, token = self._page(fetcher, f"{path}?{urlencode(query)}")
                    items.extend(page)
                    if not token:
                        break
        return items

    def _page(self, fetcher: Fetcher, path_query: str) -> tuple[list[object], str]:
        """Return one page's items and its continue token."""
        where = f"kubernetes ({self.config.source})"
        try:
            resp = fetcher.get(self.config.server + path_query)
        except FetchError as exc:
            raise DiscoveryError(f"{where}: {exc}") from None
        try:
            doc = json.loads(resp.content)
        except ValueError:
            raise DiscoveryError(f"{where}: GET {path_query}: answer is not JSON") from None
        if not isinstance(doc, dict) or doc.get("kind", "PodList") != "PodList":
            kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
            raise DiscoveryError(f"{where}: GET {path_query}: not a PodList (found {kind})")
        items = doc.get("items")
        items = [] if items is None else items  # an empty list may come as null
        if not isinstance(items, list):
            raise DiscoveryError(f"{where}: GET {path_query}: items is not a list")
        return items, str(_dict(doc.get("metadata")).get("continue") or "")


def _dict(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strings(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(value).items()}
