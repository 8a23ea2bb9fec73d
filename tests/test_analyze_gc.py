"""GC pressure in the verdict (exact MemStats), and churn reported beside a leak."""

from __future__ import annotations

import pytest

from history_builders import SITES, snapshots
from leakhunter.analyze.analyzer import Analyzer
from leakhunter.cli.check import gc_failures
from leakhunter.pipeline import judge
from leakhunter.report.verdict_json import verdict_to_dict

MiB = 1 << 20


def test_gc_figures_come_from_the_exact_counters() -> None:
    a = Analyzer("synthetic")
    # NumGC rises by one per snapshot (every 60 s); TotalAlloc at 3 MiB/s
    for s in snapshots(lambda t: {SITES[0]: 50e6}, count=30, interval=60.0, alloc_rate=3 * MiB):
        a.add(s)
    v = judge(a.analysis()).verdict
    assert v.gc is not None
    assert v.gc.cycles_per_second.value == pytest.approx(1 / 60, rel=1e-6)
    assert v.gc.alloc_rate.value == pytest.approx(3 * MiB, rel=0.01)
    assert v.gc.alloc_rate.low <= v.gc.alloc_rate.value <= v.gc.alloc_rate.high
    assert not v.gc.cpu_fraction.known  # the builder records no GCCPUFractionPpb
    doc = verdict_to_dict(v)["gc"]
    assert doc["cpu_fraction"] is None
    assert doc["alloc_bytes_per_second"]["value"] == pytest.approx(3 * MiB, rel=0.01)
    assert gc_failures(v, 1 * MiB, None) and not gc_failures(v, 10 * MiB, None)
    assert gc_failures(v, None, None) == []


def test_churn_is_reported_beside_a_leak() -> None:
    a = Analyzer("synthetic")
    # one site leaks 40 MB/h; every site allocates a share of 200 MiB/s and keeps little
    for s in snapshots(
        lambda t: {SITES[0]: 10e6 + 40e6 * t / 3600, SITES[1]: 2e6, SITES[2]: 1e6},
        count=40,
        interval=60.0,
        alloc_rate=200 * MiB,
        other=8 << 20,
    ):
        a.add(s)
    v = judge(a.analysis()).verdict
    kinds = {(f.kind.value, f.verdict.value) for f in v.findings}
    assert ("heap", "leak") in kinds and ("churn", "churn") in kinds, kinds
    leak = next(f for f in v.findings if f.verdict.value == "leak")
    churned = {f.culprit.function for f in v.findings if f.kind.value == "churn" and f.culprit}
    assert leak.culprit is not None and leak.culprit.function not in churned
