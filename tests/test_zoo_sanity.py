"""Sanity of the zoo itself (not of the detector): each scenario does what its manifest says.

Every scenario in the manifest is recorded for 15 s under 1 s snapshots (the
recordings are shared with the accuracy test: ``zoo_recordings.py``), then its
exact runtime figures are checked: every heap?gc=1&debug=1 answer ended with
runtime.MemStats; what the manifest says ``grows`` grows with a clear, steady
trend; controls (verdict no-leak) stay bounded. LEAKHUNTER_ZOO_ONLY=name,name
runs a subset; LEAKHUNTER_ZOO_SANITY_REPORT writes a per-scenario summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakhunter.collect.session import SnapshotRecord, load_session
from leakhunter.harness.manifest import ZooScenario
from zoo_recordings import SNAPSHOTS, ZooRecording, selected_scenarios

pytestmark = [pytest.mark.go, pytest.mark.slow]

MiB = 1 << 20
SCENARIOS = selected_scenarios()


@dataclass(frozen=True)
class Run:
    records: tuple[SnapshotRecord, ...] = ()
    memstats_text_ok: bool = False
    error: str = ""

    def series(self, key: str) -> list[int]:
        if key == "goroutines":
            return [r.goroutines or 0 for r in self.records]
        return [r.memstats[key] for r in self.records]


@pytest.fixture(scope="module")
def runs(zoo_recordings: dict[str, ZooRecording]) -> dict[str, Run]:
    results = {}
    for sc in SCENARIOS:
        rec = zoo_recordings[sc.name]
        if rec.error:
            results[sc.name] = Run(error=rec.error)
            continue
        records = tuple(s.record for s in load_session(rec.folder).snapshots)
        # watch parsed MemStats from the end of each heap?gc=1&debug=1 answer
        ok = bool(records) and all(r.memstats.get("HeapAlloc", 0) > 0 for r in records)
        results[sc.name] = Run(records, ok)
    report = os.environ.get("LEAKHUNTER_ZOO_SANITY_REPORT")
    if report:
        Path(report).write_text(json.dumps({n: _summary(r) for n, r in results.items()}, indent=1))
    return results


def _summary(run: Run) -> dict[str, object]:
    if run.error:
        return {"error": run.error}
    return {
        k: [run.series(k)[0], max(run.series(k)), run.series(k)[-1]]
        for k in ("HeapAlloc", "goroutines", "TotalAlloc")
    } | {"trend_heap": _tau(run.series("HeapAlloc")), "trend_g": _tau(run.series("goroutines"))}


def _tau(xs: Sequence[int]) -> float:
    """Kendall's tau of xs against time: +1 steadily up, 0 no trend."""
    n = len(xs)
    s = sum((xs[j] > xs[i]) - (xs[j] < xs[i]) for i in range(n) for j in range(i + 1, n))
    return s / (n * (n - 1) / 2) if n > 1 else 0.0


def _grows(xs: Sequence[int], min_gain: float, rel: float) -> str:
    gain = xs[-1] - xs[0]
    if gain < max(min_gain, rel * xs[0]):
        return f"gained only {gain} ({xs[0]} -> {xs[-1]})"
    if _tau(xs) < 0.6:
        return f"no steady trend (tau {_tau(xs):.2f}): {list(xs)}"
    return ""


def _level(xs: Sequence[int]) -> int:
    """The highest level a series holds over two snapshots in a row.

    A burst of requests that one snapshot happens to catch (64 in-flight
    requests: 64 more goroutines for 50 ms) is not a level the service rose to;
    growth that lasts is held snapshot after snapshot.
    """
    return max(min(a, b) for a, b in zip(xs, xs[1:], strict=False)) if len(xs) > 1 else xs[0]


def _bounded(xs: Sequence[int], slack: float, rel: float) -> str:
    half = len(xs) // 2
    first, second = _level(xs[:half]), _level(xs[half:])
    if second > first * (1 + rel) + slack:
        return f"second half level {second} well above first half level {first}: {list(xs)}"
    return ""


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_behaves_as_its_manifest_says(scenario: ZooScenario, runs: dict[str, Run]) -> None:
    run = runs[scenario.name]
    assert not run.error, run.error
    assert run.memstats_text_ok, "heap?gc=1&debug=1 does not end with # runtime.MemStats"
    assert len(run.records) == SNAPSHOTS
    assert all(r.memstats for r in run.records), [dict(r.errors) for r in run.records]
    assert all(r.epoch == 0 for r in run.records)
    problems = []
    if "heap" in scenario.grows:
        problems.append(_grows(run.series("HeapAlloc"), 1 * MiB, 0.2))
    if "goroutines" in scenario.grows:
        problems.append(_grows(run.series("goroutines"), 10, 0.1))
    if "allocs" in scenario.grows:
        allocated = run.series("TotalAlloc")[-1] - run.series("TotalAlloc")[0]
        retained = max(run.series("HeapAlloc")) - run.series("HeapAlloc")[0]
        if allocated < 20 * max(retained, 4 * MiB):
            problems.append(f"allocated {allocated} B vs {retained} B retained: not churn")
    if scenario.verdict != "leak":
        problems.append(_bounded(run.series("HeapAlloc"), 2 * MiB, 0.25))
        problems.append(_bounded(run.series("goroutines"), 10, 0.25))
    problems = [p for p in problems if p]
    assert not problems, f"{scenario.name}: " + "; ".join(problems)
