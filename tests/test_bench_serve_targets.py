"""The serve benchmarks' simulated targets look like one Go process to watch's snapshotter.

bench/bench_serve_scale.py measures serve against recorded sessions replayed
in cycles; its figures mean something only if serve sees a running process
(no restart at each wrap of the replay) serving every profile it asks for.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from leakhunter.collect.session import load_session
from leakhunter.collect.targets import is_restart
from leakhunter.collect.watch import WatchOptions, collect
from leakhunter.formats.memstats import MemStats, parse_memstats

BENCH = Path(__file__).resolve().parent.parent / "bench" / "serve_targets.py"


def _sim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serve_targets", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("serve_targets", module)
    spec.loader.exec_module(module)
    return module


def test_replayed_counters_never_go_back_across_cycles() -> None:
    sim = _sim()
    for name in sim.SCENARIOS:
        rec = sim.recording(name)
        stats = [parse_memstats(rec.heap_text(i)) for i in range(2 * len(rec) + 1)]
        assert not [i for i in range(1, len(stats)) if is_restart(stats[i - 1], stats[i])], name
        assert stats[0].heap_alloc == MemStats.from_fields(rec.records[0].memstats).heap_alloc


def test_snapshotter_takes_whole_snapshots_through_the_wrap(tmp_path: Path) -> None:
    sim = _sim()
    n = len(sim.recording(sim.scenario_of(0)))
    with sim.simulated(1, 1, start=n - 2) as fleet:
        url = "http://" + fleet.targets[0][0]
        result = collect(url, WatchOptions(interval=0.01, snapshots=4), tmp_path / "s")
    assert (result.snapshots, result.epochs) == (4, 1)
    for snap in load_session(tmp_path / "s").snapshots:
        assert snap.record.memstats and not snap.record.errors
        assert all(snap.has(k) for k in ("heap", "goroutine", "goroutineleak"))
