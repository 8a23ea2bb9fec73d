"""Prometheus metrics of the guards: one collector, read at scrape time, in serve's naming.

Names follow serve's conventions (DESIGN.md, ``leakhunter.serve.metrics``):
``leakhunter_`` first, base units, ``_total`` on counters, ``_ratio`` on 0-1
gauges. Buffers carry the label ``buffer``, pools ``pool``. In the application
(``register_metrics()``) that is all; ``leakhunter serve`` exports the same
families read from each target's ``/debug/vars``, with its ``target`` and ``id``
labels first, so one alert rule fits both.

    leakhunter_buffer_items / _capacity / _fill_ratio / _high_water_items   gauges
    leakhunter_buffer_puts_total / _gets_total                              counters
    leakhunter_buffer_full_total      puts that found the buffer full (any policy)
    leakhunter_buffer_dropped_total   items DropOldest evicted
    leakhunter_buffer_rejected_total  items FailFast (or Block past its timeout) refused
    leakhunter_pool_hit_ratio / _idle_buffers / _in_use_buffers             gauges
    leakhunter_pool_gets_total / _hits_total                                counters
    leakhunter_pool_oversized_total   buffers dropped on release for growing past the bound
    leakhunter_pool_discarded_total   buffers dropped on release because the pool was full

A collector rather than gauges updated on every put: a put stays a few
attribute increments under the buffer's own lock, and a guard that is garbage
collected simply stops being reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, CollectorRegistry

from leakhunter.guard._registry import figures

__all__ = ["GuardCollector", "Row", "guard_families", "register_metrics"]

#: (label values, a /debug/vars "leakhunter_guards" object) per target
Row = tuple[Sequence[str], Mapping[str, Mapping[str, Mapping[str, object]]]]

_BUFFER_GAUGES = (
    ("items", "leakhunter_buffer_items", "Items in the buffer"),
    ("capacity", "leakhunter_buffer_capacity", "Most items the buffer holds"),
    ("high_water", "leakhunter_buffer_high_water_items", "Most items the buffer ever held"),
)
_BUFFER_COUNTERS = (
    ("puts", "leakhunter_buffer_puts", "Items the buffer accepted"),
    ("gets", "leakhunter_buffer_gets", "Items taken out of the buffer"),
    ("full", "leakhunter_buffer_full", "Puts that found the buffer full (whatever the policy did)"),
    ("dropped", "leakhunter_buffer_dropped", "Items evicted by the DropOldest policy"),
    ("rejected", "leakhunter_buffer_rejected", "Items refused (FailFast, or Block timed out)"),
)
_POOL_GAUGES = (
    ("idle", "leakhunter_pool_idle_buffers", "Buffers waiting in the pool"),
    ("in_use", "leakhunter_pool_in_use_buffers", "Buffers handed out and not given back"),
)
_POOL_COUNTERS = (
    ("gets", "leakhunter_pool_gets", "Buffers asked of the pool"),
    ("hits", "leakhunter_pool_hits", "Gets served by an idle buffer"),
    ("oversized", "leakhunter_pool_oversized", "Released buffers dropped for growing too big"),
    ("discarded", "leakhunter_pool_discarded", "Released buffers dropped: the pool was full"),
)


def _num(row: Mapping[str, object], key: str) -> float | None:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def guard_families(rows: Iterable[Row], labels: Sequence[str] = ()) -> list[Metric]:
    """Return the guard metric families for rows of (label values, guard figures).

    ``labels`` names the leading labels of every series (serve: target, id and
    the targets' own labels; the application: none).
    """
    b_labels, p_labels = [*labels, "buffer"], [*labels, "pool"]
    fams: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
    for key, name, doc in _BUFFER_GAUGES:
        fams[key] = GaugeMetricFamily(name, doc, labels=b_labels)
    fams["fill"] = GaugeMetricFamily(
        "leakhunter_buffer_fill_ratio", "Items over capacity (0-1)", labels=b_labels
    )
    for key, name, doc in _BUFFER_COUNTERS:
        fams["c_" + key] = CounterMetricFamily(name, doc, labels=b_labels)
    for key, name, doc in _POOL_GAUGES:
        fams["p_" + key] = GaugeMetricFamily(name, doc, labels=p_labels)
    fams["hit"] = GaugeMetricFamily(
        "leakhunter_pool_hit_ratio",
        "Gets served by an idle buffer over all gets (0-1)",
        labels=p_labels,
    )
    for key, name, doc in _POOL_COUNTERS:
        fams["pc_" + key] = CounterMetricFamily(name, doc, labels=p_labels)
    for values, guards in rows:
        for bname, b in sorted((guards.get("buffers") or {}).items()):
            lv = [*values, bname]
            for key, *_ in _BUFFER_GAUGES:
                v = _num(b, key)
                if v is not None:
                    fams[key].add_metric(lv, v)
            items, capacity = _num(b, "items"), _num(b, "capacity")
            if items is not None and capacity:
                fams["fill"].add_metric(lv, items / capacity)
            for key, *_ in _BUFFER_COUNTERS:
                v = _num(b, key)
                if v is not None:
                    fams["c_" + key].add_metric(lv, v)
        for pname, p in sorted((guards.get("pools") or {}).items()):
            lv = [*values, pname]
            for key, *_ in _POOL_GAUGES:
                v = _num(p, key)
                if v is not None:
                    fams["p_" + key].add_metric(lv, v)
            gets, hits = _num(p, "gets"), _num(p, "hits")
            if gets is not None and hits is not None:
                fams["hit"].add_metric(lv, hits / gets if gets else 1.0)
            for key, *_ in _POOL_COUNTERS:
                v = _num(p, key)
                if v is not None:
                    fams["pc_" + key].add_metric(lv, v)
    return list(fams.values())


class GuardCollector:
    """Yields the metrics of this process's named guards at each scrape."""

    def collect(self) -> Iterator[Metric]:
        """Yield every guard family (called by prometheus-client on each scrape)."""
        yield from guard_families([((), figures())])

    def describe(self) -> Iterator[Metric]:
        """Yield the families without values, so registering needs no collection."""
        yield from guard_families([])


def register_metrics(registry: CollectorRegistry | None = None) -> GuardCollector:
    """Export the guards' metrics in ``registry`` (the default one unless given); return it."""
    collector = GuardCollector()
    (registry if registry is not None else REGISTRY).register(collector)
    return collector
