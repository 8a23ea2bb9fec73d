"""compare's parts on hand-built values: rebuild-proof matching, statuses, figures' bands."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakhunter.analyze.verdict import (
    Finding,
    FindingKind,
    FindingVerdict,
    Growth,
    Projection,
    RuleMatch,
    Verdict,
    VerdictValue,
)
from leakhunter.collect.session import SnapshotRecord
from leakhunter.compare import (
    Result,
    Side,
    Status,
    judge_comparison,
    match_findings,
    normalize_function,
    process_figures,
)
from leakhunter.compare.figures import sen_slope
from leakhunter.model.goroutine import Frame

APP = "example.com/svc/orders"


def finding(
    culprit: str,
    *,
    line: int = 10,
    per_hour: float = 1e9,
    kind: FindingKind = FindingKind.HEAP,
    verdict: FindingVerdict = FindingVerdict.LEAK,
    rule: str | None = None,
    frames: tuple[str, ...] = (),
) -> Finding:
    stack = tuple(Frame(f, "/src/orders.go", line + i) for i, f in enumerate((culprit, *frames)))
    return Finding(
        id=f"{kind.value}-{abs(hash((culprit, line))) % 10**8:08x}",
        kind=kind,
        verdict=verdict,
        confidence=0.9,
        culprit=stack[0],
        stack=stack,
        growth=Growth("bytes" if kind is FindingKind.HEAP else "goroutines", 0, 1, per_hour),
        evidence=(),
        rule=RuleMatch(rule, rule, "fix it") if rule else None,
        app_frames=tuple(f.function for f in stack),
    )


def side(*findings: Finding, value: VerdictValue | None = None) -> Side:
    leak = any(f.verdict is FindingVerdict.LEAK for f in findings)
    v = Verdict(
        target="t",
        snapshots=20,
        window_seconds=19.0,
        verdict=value or (VerdictValue.LEAK if leak else VerdictValue.NO_LEAK),
        findings=findings,
        projection=Projection(None, None),
    )
    return Side("s", v, process_figures(()))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (f"{APP}.(*Handler).serve.func1", f"{APP}.(*Handler).serve.func2"),
        (f"{APP}.run.func3.1", f"{APP}.run.func1.4"),
        (f"{APP}.run.gowrap2", f"{APP}.run.gowrap1"),
        (f"{APP}.Cache[go.shape.string].Put", f"{APP}.Cache[go.shape.int].Put"),
        (f"{APP}.(*Store).Put-fm", f"{APP}.(*Store).Put"),
    ],
)
def test_rebuild_renames_normalise_to_one_name(a: str, b: str) -> None:
    assert normalize_function(a) == normalize_function(b)


def test_distinct_functions_stay_distinct() -> None:
    assert normalize_function(f"{APP}.handle") != normalize_function(f"{APP}.handleQuote")
    assert normalize_function(f"{APP}.v2.Put") == f"{APP}.v2.Put"


def test_match_survives_renamed_closure_and_shifted_lines() -> None:
    before = [
        finding(f"{APP}.(*Poller).poll.func1", line=40, kind=FindingKind.GOROUTINE),
        finding(f"{APP}.cacheResponse", line=30),
    ]
    after = [
        finding(f"{APP}.cacheResponse", line=41, per_hour=1e6),
        finding(f"{APP}.(*Poller).poll.func2", line=52, kind=FindingKind.GOROUTINE),
    ]
    got = {(m.before, m.after, m.by) for m in match_findings(before, after)}
    assert got == {(0, 1, "culprit"), (1, 0, "culprit")}


def test_match_by_rule_and_shared_frames_when_the_culprit_moved() -> None:
    a = finding(f"{APP}.openConn", rule="GO-THRIFT-UNBOUNDED-CLIENTS", frames=(f"{APP}.GetItem",))
    b = finding(f"{APP}.dial", rule="GO-THRIFT-UNBOUNDED-CLIENTS", frames=(f"{APP}.GetItem",))
    (m,) = match_findings([a], [b])
    assert m.by == "rule"
    other = finding(f"{APP}.elsewhere", rule="GO-UNBOUNDED-CACHE")
    assert match_findings([a], [other]) == ()


def test_statuses_and_result() -> None:
    a1, a2, a3 = (finding(f"{APP}.f{i}", per_hour=1e9) for i in range(3))
    after = side(
        replace(a1, verdict=FindingVerdict.SUSPECT),  # below the bar now: fixed
        replace(a2, growth=Growth("bytes", 0, 1, 2e8)),  # 20% of the old rate: reduced
        finding(f"{APP}.brandNew"),  # new
    )
    c = judge_comparison(side(a1, a2, a3), after)
    statuses = [ch.status for ch in c.changes]
    assert statuses == [Status.FIXED, Status.REDUCED, Status.FIXED, Status.NEW]
    assert c.changes[1].ratio == pytest.approx(0.2)
    assert c.result is Result.NOT_FIXED  # a reduced leak still grows: the fix is not done


def test_result_order() -> None:
    leak = finding(f"{APP}.put")
    assert judge_comparison(side(leak), side(leak)).result is Result.NOT_FIXED
    assert judge_comparison(side(), side(leak)).result is Result.REGRESSED
    assert judge_comparison(side(leak), side()).result is Result.FIXED
    assert judge_comparison(side(), side()).result is Result.FIXED
    undecided = side(value=VerdictValue.INCONCLUSIVE)
    assert judge_comparison(side(leak), undecided).result is Result.INCONCLUSIVE
    assert judge_comparison(undecided, side()).result is Result.INCONCLUSIVE
    # a suspect on either side decides nothing
    suspect = replace(leak, verdict=FindingVerdict.SUSPECT)
    assert judge_comparison(side(suspect), side(suspect)).result is Result.FIXED


@settings(max_examples=40, deadline=None)
@given(
    slope=st.floats(-1e6, 1e6),
    noise=st.floats(0, 1e5),
    seed=st.integers(0, 2**16),
)
def test_sen_band_holds_the_estimate(slope: float, noise: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(20, dtype=np.float64)
    y = 1e8 + slope * t + rng.normal(0, noise + 1e-9, 20)
    f = sen_slope(t, y, "bytes/s")
    assert f.low <= f.value <= f.high
    if noise == 0:
        assert f.value == pytest.approx(slope, rel=1e-6, abs=1e-6)


def test_band_separates_a_leak_from_a_flat_noisy_heap() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(15, dtype=np.float64)
    flat = sen_slope(t, 5e7 + rng.normal(0, 3e5, 15), "bytes/s")
    leak = sen_slope(t, 5e7 + 8e5 * t + rng.normal(0, 3e5, 15), "bytes/s")
    assert flat.low <= 0 <= flat.high and not flat.excludes_zero()
    assert leak.excludes_zero() and leak.low > 4e5


def test_gc_rate_leaves_out_the_snapshots_forced_gcs() -> None:
    recs = [
        SnapshotRecord(
            seq=i,
            time=100.0 + i,
            elapsed=float(i),
            memstats={
                "HeapAlloc": 1 << 20,
                "NumGC": 10 + 3 * i,  # 2 GCs/s from load + 1 forced per snapshot
                "NumForcedGC": i,
                "TotalAlloc": (1 << 20) * (1 + i),
                "GCCPUFractionPpb": 1_000_000,
            },
            goroutines=12,
        )
        for i in range(10)
    ]
    f = process_figures(recs)
    assert f.gc_per_second.value == pytest.approx(2.0)
    assert f.alloc_rate.value == pytest.approx(1 << 20)
    assert f.gc_cpu_fraction.value == pytest.approx(0.001)
    assert f.goroutine_slope.value == 0 and f.heap_slope.value == 0


def test_every_leak_of_the_zoo_has_a_fixed_variant() -> None:
    from leakhunter.harness.manifest import load_manifest

    scenarios = {s.name: s for s in load_manifest()}
    leaks = {s.name for s in scenarios.values() if s.verdict == "leak"}
    variants = {s.fixed_of: s for s in scenarios.values() if s.fixed_of}
    assert set(variants) == leaks
    for leak, variant in variants.items():
        assert variant.name == f"{leak}-fixed" and variant.is_control
        assert variant.family == scenarios[leak].family
        assert variant.runtime == scenarios[leak].runtime


def test_a_leak_still_growing_is_paired_before_a_suspect_of_the_same_site() -> None:
    heap = finding(f"{APP}.put", kind=FindingKind.HEAP)
    suspect = replace(heap, verdict=FindingVerdict.SUSPECT, growth=Growth("bytes", 0, 1, 10.0))
    still = finding(f"{APP}.put", kind=FindingKind.GOROUTINE, per_hour=500.0)
    c = judge_comparison(side(heap), side(suspect, still))
    assert [ch.status for ch in c.changes] == [Status.STILL_LEAKING]
    assert c.changes[0].after is still and c.result is Result.NOT_FIXED
