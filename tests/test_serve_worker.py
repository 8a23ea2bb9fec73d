"""One serve worker scraping a simulated target, driven scrape by scrape.

The simulated target (bench/serve_targets.py) replays a recorded zoo session
as a running Go process: real pprof bytes over real HTTP on loopback.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from leakhunter.analyze.history import HistoryOptions
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.serve.options import ServeOptions
from leakhunter.serve.store import Store
from leakhunter.serve.targets import TargetSpec
from leakhunter.serve.worker import TargetWorker
from test_bench_serve_targets import _sim


def _options(tmp_path: Path, raw: int, judge_every: float) -> ServeOptions:
    history = HistoryOptions(raw_points=raw, minute_points=64, minute_width=300.0)
    return ServeOptions(
        data=tmp_path / "data",
        interval=60.0,
        quiet_period=0.0,
        judge_every=judge_every,
        analyze=replace(AnalyzeOptions(), history=history),
    )


def test_a_long_history_is_judged_every_judge_every_seconds_a_young_one_every_scrape(
    tmp_path: Path,
) -> None:
    sim = _sim()
    with sim.simulated(1, 1) as fleet:
        store = Store(tmp_path / "serve.db")
        spec = TargetSpec("http://" + fleet.targets[0][0])
        store.upsert_target(spec.id, spec.url, spec.labels, spec.source)
        worker = TargetWorker(spec, store, _options(tmp_path, 8, 3600.0), threading.Event())
        judged: list[float | None] = []
        try:
            for _ in range(14):
                worker.scrape()
                judged.append(worker.judged_at)
            # young (up to 8 snapshots in the run): every scrape is judged
            assert len(set(judged[:8])) == 8, judged
            # then at most once an hour: the last judgement stays
            assert len(set(judged[8:])) == 1 and judged[8] is not None
            assert worker.public.snapshots == 14
            assert worker.public.verdict != "pending"
        finally:
            worker.close()
            store.close()


def test_a_restarted_serve_restores_on_the_first_scrape_not_before(tmp_path: Path) -> None:
    sim = _sim()
    with sim.simulated(1, 1) as fleet:
        spec = TargetSpec("http://" + fleet.targets[0][0])
        opts = _options(tmp_path, 256, 0.0)
        store = Store(tmp_path / "serve.db")
        store.upsert_target(spec.id, spec.url, spec.labels, spec.source)
        first = TargetWorker(spec, store, opts, threading.Event())
        for _ in range(7):
            first.scrape()
        shown = first.public
        first.close()  # saves the analyser's state
        again = TargetWorker(spec, store, opts, threading.Event())
        try:
            # before its first scrape: what was stored, and nothing read back yet
            assert not again.restored and again.analyzer.current is None
            assert (again.public.snapshots, again.public.status) == (7, shown.status)
            again.close()  # closing a worker never restored keeps the saved state
            third = TargetWorker(spec, store, opts, threading.Event())
            third.scrape()
            assert third.restored
            run = third.analyzer.current
            assert run is not None and run.fold.count == 8
            assert third.public.snapshots == 8
            third.close()
        finally:
            store.close()
