"""The Prometheus metrics of serve, built from the targets' statuses at scrape time.

A custom collector (prometheus-client's ``Collector``) rather than gauges set
by the scrapers: the values are read from the frozen :class:`TargetStatus`
of each target when Prometheus asks, so a removed target's series vanish at
once and no stale finding lingers. Names and labels are the contract in
DESIGN.md ("serve"): every series has ``target`` (the URL without
credentials) plus the target's own labels; finding series add ``kind``,
``culprit`` and ``rule`` (and ``unit`` for growth). Every series also carries
``id``, the target's id in serve's API and pages, so an alert can link to
``/targets/{id}`` (the URL alone does not name the page). Cardinality is
bounded: at most ``top_findings`` findings per target, leaks first. Python
targets with named ``leakhunter.guard`` buffers and pools add the
``leakhunter_buffer_*`` and ``leakhunter_pool_*`` families (``guard.metrics``),
with ``buffer`` or ``pool`` after the target's labels (at most 64 of each kind
per target: ``collect`` drops the rest).

Label names differ between targets (one has ``team``, another ``zone``); a
metric family needs one set, so each family uses the union, and a target
without a label gets the empty value, which Prometheus treats as absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from leakhunter.guard.metrics import guard_families
from leakhunter.serve.pyroscope import ExportCounts
from leakhunter.serve.worker import TargetStatus

__all__ = ["ServeCollector", "label_name"]

_BAD = re.compile(r"[^a-zA-Z0-9_]")
#: labels serve sets itself; a target label of the same name is exported as exported_<name>
_OWN = frozenset({"target", "id", "kind", "culprit", "rule", "unit", "finding"})


def label_name(name: str) -> str:
    """Return a valid Prometheus label name for a target label (never a reserved one)."""
    clean = _BAD.sub("_", name) or "_"
    if clean[0].isdigit():
        clean = "_" + clean
    if clean.startswith("__"):
        clean = clean.lstrip("_") or "_"
    return f"exported_{clean}" if clean in _OWN else clean


def _rank(f: Mapping[str, Any]) -> tuple[int, float]:
    return ({"leak": 0, "suspect": 1}.get(str(f.get("verdict")), 2), -float(f.get("confidence", 0)))


class ServeCollector(Collector):
    """Collects serve's metrics from a function returning every target's status."""

    def __init__(
        self,
        statuses: Callable[[], Sequence[TargetStatus]],
        top_findings: int,
        lags: Callable[[], Mapping[float, float]] = dict,
        exports: Callable[[], ExportCounts] | None = None,
    ) -> None:
        self.statuses = statuses
        self.top = top_findings
        self.lags = lags
        self.exports = exports

    def collect(self) -> Iterator[Metric]:
        """Yield every family (called by prometheus-client on each /metrics request)."""
        sts = list(self.statuses())
        names = sorted({label_name(k) for s in sts for k in s.labels})
        base = ["target", "id", *names]

        def values(s: TargetStatus) -> list[str]:
            own = {label_name(k): v for k, v in s.labels.items()}
            return [s.url, s.id, *(own.get(n, "") for n in names)]

        def gauge(name: str, doc: str, extra: Sequence[str] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=[*base, *extra])

        up = gauge("leakhunter_target_up", "1 when the target's last scrape answered")
        took = gauge("leakhunter_scrape_duration_seconds", "How long the last scrape took")
        errors = CounterMetricFamily(
            "leakhunter_scrape_errors", "Scrapes that got no answer", labels=base
        )
        snaps = CounterMetricFamily(
            "leakhunter_snapshots", "Snapshots taken of the target", labels=base
        )
        heap = gauge("leakhunter_heap_live_bytes", "Exact live heap after a forced GC")
        gor = gauge("leakhunter_goroutines", "Goroutines (or tasks) of the target")
        fds = gauge("leakhunter_open_fds", "Open file descriptors of the target, where known")
        max_fds = gauge(
            "leakhunter_max_fds", "Descriptor limit (RLIMIT_NOFILE) of the target, where known"
        )
        leak = gauge("leakhunter_leak", "1 when the target's verdict is leak")
        ttl = gauge(
            "leakhunter_time_to_oom_seconds", "Time until the memory limit at the leak rate"
        )
        extra = ["kind", "culprit", "rule"]
        f_leak = gauge("leakhunter_finding_leak", "1 for a leak finding, 0 for a suspect", extra)
        f_growth = gauge(
            "leakhunter_finding_growth_per_second",
            "How fast a finding grows (label unit: bytes, goroutines, fds)",
            [*extra, "unit"],
        )
        f_conf = gauge("leakhunter_finding_confidence", "Confidence of a finding (0-1)", extra)
        for s in sts:
            lv = values(s)
            if s.up is not None:
                up.add_metric(lv, 1.0 if s.up else 0.0)
            if s.scrape_seconds is not None:
                took.add_metric(lv, s.scrape_seconds)
            errors.add_metric(lv, float(s.errors))
            snaps.add_metric(lv, float(s.snapshots))
            for fam, v in (
                (heap, s.heap),
                (gor, s.goroutines),
                (fds, s.fds),
                (max_fds, s.max_fds),
            ):
                if v is not None:
                    fam.add_metric(lv, v)
            leak.add_metric(lv, 1.0 if s.verdict == "leak" else 0.0)
            if s.time_to_oom is not None:
                ttl.add_metric(lv, s.time_to_oom)
            shown = [f for f in s.findings if f.get("verdict") in ("leak", "suspect")]
            seen: set[tuple[str, ...]] = set()
            for f in sorted(shown, key=_rank):
                culprit = (f.get("culprit") or {}).get("function", "")
                rule = (f.get("rule") or {}).get("id", "")
                fl = [*lv, str(f["kind"]), str(culprit), str(rule)]
                if tuple(fl) in seen or len(seen) >= self.top:
                    continue  # one series per (kind, culprit, rule): Prometheus refuses twins
                seen.add(tuple(fl))
                growth = f.get("growth") or {}
                f_leak.add_metric(fl, 1.0 if f["verdict"] == "leak" else 0.0)
                per_second = float(growth.get("per_hour", 0.0)) / 3600.0
                f_growth.add_metric([*fl, str(growth.get("unit", ""))], per_second)
                f_conf.add_metric(fl, float(f.get("confidence", 0.0)))
        yield from (up, took, errors, snaps, heap, gor, fds, max_fds, leak, ttl)
        yield from (f_leak, f_growth, f_conf)
        # a Python agent's leakhunter.guard buffers and pools: the families the
        # application exports itself, with the target's labels first
        rows = [(values(s), s.guards) for s in sts if s.guards]
        if rows:
            yield from guard_families(rows, base)
        lag = GaugeMetricFamily(
            "leakhunter_serve_scrape_lag_seconds",
            "How late serve's recent scrapes started after they were due (quantiles)",
            labels=["quantile"],
        )
        for q, v in sorted(self.lags().items()):
            lag.add_metric([f"{q:g}"], v)
        yield lag
        if self.exports is not None:
            yield from _export_families(self.exports())


def _export_families(c: ExportCounts) -> Iterator[Metric]:
    """Yield the Pyroscope exporter's counters (only when export is configured)."""
    for name, doc, value in (
        ("sent", "Profiles pushed to Pyroscope", c.sent),
        ("failed", "Profiles Pyroscope refused or never answered for, after retries", c.failed),
        ("dropped", "Profiles dropped before pushing: the export queue was full", c.dropped),
    ):
        fam = CounterMetricFamily(f"leakhunter_serve_export_{name}", doc, labels=["exporter"])
        fam.add_metric(["pyroscope"], float(value))
        yield fam
    queued = GaugeMetricFamily(
        "leakhunter_serve_export_queued", "Profiles waiting to be pushed", labels=["exporter"]
    )
    queued.add_metric(["pyroscope"], float(c.queued))
    yield queued
