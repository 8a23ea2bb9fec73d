"""Profile: where serve's CPU goes per scrape, at N targets (default 1,000), fresh and aged.

serve's own parts (``Scheduler``, ``TargetWorker``, ``Store``) run in this
process against the simulated targets of bench/serve_targets.py: N workers
are created through ``Scheduler.set_targets`` (as serve's first target list
is; with ``--age`` the database already holds that much history per target,
so this is a restart of serve), then the first ``--scrapes`` targets are
scraped three times, one after another on this thread: once to warm up (the
first scrape of a target restores its saved state, fetches a ``debug=2`` dump
and opens its connection), once under phase timers, once under cProfile.

Phase timers wrap the functions a scrape goes through and charge each its
own thread CPU time, exclusive of the wrapped functions it calls: HTTP (the
``Fetcher.get`` calls, run inline: serve runs each request on a thread of its
own, whose cost is measured apart below), the files written, MemStats and
goroutine-count parsing, profile decoding, the analyser's fold, the judgement
(windows and trends), session facts, rules, the verdict's JSON, SQLite, the
evidence captures, and the rest of the scrape. Beside them: creating a worker,
its memory, ``save()`` (every 5 minutes per target, so a fifth of it per
scrape at 60 s), one ``/metrics`` answer for N targets, one retention pass,
and a request through serve's thread-per-request fetch against an inline one.

    python bench/bench_serve_profile.py [--n 1000] [--scrapes 300] [--ages 0,1440] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import pstats
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import serve_targets as sim

#: phase -> the functions charged to it (module or class, attribute)
PHASES: dict[str, list[tuple[str, str]]] = {
    "http (GET, inline)": [("leakhunter.collect.fetch:Fetcher", "get")],
    "files written (profiles, record)": [
        ("leakhunter.collect.session:SessionWriter", "write_file"),
        ("leakhunter.collect.session:SessionWriter", "commit"),
    ],
    "MemStats parse": [("leakhunter.collect.watch", "parse_memstats")],
    "goroutine counts (dump steering)": [("leakhunter.collect.watch", "group_counts")],
    "decode (profiles, dumps)": [
        ("leakhunter.collect.snapshot", "decode_profile"),
        ("leakhunter.collect.snapshot", "dump_text"),
    ],
    "fold (Analyzer.add less decode)": [("leakhunter.analyze.analyzer:Analyzer", "add")],
    "judge (windows, trends, findings)": [("leakhunter.analyze.analyzer", "judge_run")],
    "session facts": [("leakhunter.analyze.analyzer", "session_facts")],
    "rules": [("leakhunter.pipeline", "apply_rules"), ("leakhunter.pipeline", "load_rules")],
    "verdict JSON": [
        ("leakhunter.serve.worker", "verdict_to_dict"),
        ("leakhunter.serve.worker", "finding_to_dict"),
    ],
    "sqlite": [
        ("leakhunter.serve.store:Store", m)
        for m in ("record_scrape", "grow_file", "add_file", "set_file", "add_event", "save_state")
    ],
    "evidence capture (files)": [("leakhunter.serve.worker:TargetWorker", "_capture")],
    "rest of the scrape": [("leakhunter.serve.worker:TargetWorker", "scrape")],
}


class Phases:
    """Charges thread CPU time to phases, each exclusive of the phases it calls."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.calls: dict[str, int] = dict.fromkeys(PHASES, 0)
        self.stack: list[list[float]] = []  # [start, charged to callees]
        self.undo: list[Callable[[], None]] = []

    def wrap(self) -> None:
        import importlib

        for phase, targets in PHASES.items():
            for where, attr in targets:
                mod, _, cls = where.partition(":")
                owner: Any = importlib.import_module(mod)
                owner = getattr(owner, cls) if cls else owner
                original = getattr(owner, attr)
                setattr(owner, attr, self._timed(phase, original))
                self.undo.append(functools.partial(setattr, owner, attr, original))

    def _timed(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                return fn(*args, **kwargs)
            self.calls[phase] += 1
            frame = [time.thread_time(), 0.0]
            self.stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                took = time.thread_time() - frame[0]
                self.stack.pop()
                self.spent[phase] += took - frame[1]
                if self.stack:
                    self.stack[-1][1] += took

        return timed

    def unwrap(self) -> None:
        for undo in self.undo:
            undo()


def _rss() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / (1 << 20)


def _fetch_overhead(url: str, count: int = 100) -> dict[str, float]:
    """Time GETs of a small profile inline and through serve's thread-per-request path."""
    from leakhunter.collect.fetch import Fetcher

    out = {}
    for name, cancel in (("inline", None), ("thread", threading.Event())):
        with Fetcher(cancel=cancel) as f:
            f.get(url)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                f.get(url)
            out[f"{name}_wall_ms"] = (time.perf_counter() - wall) / count * 1e3
            out[f"{name}_cpu_ms"] = (time.process_time() - cpu) / count * 1e3
    return out


def child(n: int, age: int, scrapes: int, helpers: int, top: int) -> dict[str, Any]:
    """Profile one (N, age) in this process; return the figures."""
    from prometheus_client import CollectorRegistry, generate_latest

    from leakhunter.serve.metrics import ServeCollector
    from leakhunter.serve.options import ServeOptions
    from leakhunter.serve.retention import enforce
    from leakhunter.serve.scheduler import Scheduler
    from leakhunter.serve.store import Store
    from leakhunter.serve.target_groups import parse_groups

    out: dict[str, Any] = {"n": n, "age": age, "scrapes": scrapes}
    with (
        tempfile.TemporaryDirectory(prefix="bench-serve-prof-") as tmp,
        sim.simulated(n, helpers, start=age) as fleet,
    ):
        data, targets = Path(tmp), Path(tmp) / "targets.json"
        if age:
            sim.seed_database(data, targets, fleet.groups(), age, 60.0)
        options = ServeOptions(data=data, quiet_period=1.0)
        store = Store(data / "serve.db")
        stop = threading.Event()
        scheduler = Scheduler(store, options, stop)
        specs = parse_groups(fleet.groups(), source=f"file_sd:{targets}").targets
        rss0, cpu0 = _rss(), time.process_time()
        scheduler.set_targets(specs)  # creates every worker (each restores on its first scrape)
        out["create_ms_per_target"] = (time.process_time() - cpu0) / n * 1e3
        out["rss_per_target_kib"] = (_rss() - rss0) * 1024 / n
        # the profiled targets in fleet order, so every scenario has its share
        place = {f"http://{addr}": i for i, (addr, _) in enumerate(fleet.targets)}
        ordered = sorted(specs, key=lambda s: place.get(s.url, n))
        workers = [scheduler.workers[s.id] for s in ordered][:scrapes]
        for w in workers:
            w.fetcher.cancel = None  # inline, so this thread's timers see the HTTP work
        cpu0 = time.process_time()
        for w in workers:
            w.scrape()
        out["first_scrape_ms"] = (time.process_time() - cpu0) / len(workers) * 1e3
        out["rss_after_first_scrape_kib"] = (_rss() - rss0) * 1024 / n  # only `scrapes` scraped
        phases = Phases()
        phases.wrap()
        cpu0 = time.process_time()
        for w in workers:
            w.scrape()
        total = time.process_time() - cpu0
        phases.unwrap()
        out["scrape_ms"] = total / len(workers) * 1e3
        out["phases_ms"] = {k: v / len(workers) * 1e3 for k, v in phases.spent.items()}
        out["requests_per_scrape"] = phases.calls["http (GET, inline)"] / len(workers)
        prof = cProfile.Profile()
        prof.enable()
        for w in workers:
            w.scrape()
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).strip_dirs().sort_stats("tottime").print_stats(top)
        out["cprofile"] = text.getvalue()
        cpu0 = time.process_time()
        for w in workers:
            w.save()
        out["save_ms"] = (time.process_time() - cpu0) / len(workers) * 1e3
        out["state_kib"] = len(workers[0].analyzer.save()) / 1024
        registry = CollectorRegistry()
        registry.register(ServeCollector(scheduler.statuses, options.top_findings))
        cpu0 = time.process_time()
        body = generate_latest(registry)
        out["metrics_ms"], out["metrics_kib"] = (time.process_time() - cpu0) * 1e3, len(body) / 1024
        cpu0 = time.process_time()
        enforce(store, options, time.time())
        out["retention_ms"] = (time.process_time() - cpu0) * 1e3
        # what each worker's restore reads: its target row and its segment rows
        probe = workers[len(workers) // 2].spec.id
        cpu0 = time.process_time()
        store.target(probe)
        out["targets_query_ms"] = (time.process_time() - cpu0) * 1e3
        cpu0 = time.process_time()
        out["file_rows"] = len(store.files("segment", probe))
        out["files_query_ms"] = (time.process_time() - cpu0) * 1e3
        out["fetch"] = _fetch_overhead(workers[0].base + "/debug/pprof/goroutine?debug=0")
        stop.set()
        cpu0 = time.process_time()
        scheduler.close()
        out["close_ms_per_target"] = (time.process_time() - cpu0) / n * 1e3
        store.close()
    return out


def judge_cost(ages: list[int]) -> list[dict[str, Any]]:
    """Time one judgement (analysis, rules) against history, one clock per target as serve keeps."""
    from leakhunter.pipeline import judge
    from leakhunter.serve.options import ServeOptions

    options = ServeOptions()
    out = []
    for name in ("grpc-stream-not-closed", "idle-worker-pool"):
        for age in ages:
            analyzer = sim.aged(name, age, 60.0, time.time(), options.analyze)
            took = []
            for _ in range(3):
                cpu = time.process_time()
                verdict = judge(analyzer.analysis(), options.analyze).verdict
                took.append(time.process_time() - cpu)
            out.append(
                {
                    "scenario": name,
                    "age": age,
                    "ms": min(took) * 1e3,
                    "window_s": verdict.window_seconds,
                    "verdict": verdict.verdict.value,
                }
            )
    return out


def show(r: dict[str, Any], interval: float) -> None:
    """Print one (N, age)'s breakdown per scrape and what it means for N targets."""
    n, per_s = r["n"], r["n"] / interval
    print(f"\nN={n}, history {r['age']} snapshots per target: {r['scrapes']} scrapes profiled")
    total = r["scrape_ms"]
    for phase, ms in sorted(r["phases_ms"].items(), key=lambda kv: -kv[1]):
        print(f"  {phase:<36} {ms:7.2f} ms  {ms / total:6.1%}")
    save = r["save_ms"] * interval / 300.0
    print(f"  {'= one scrape (CPU, this thread)':<36} {total:7.2f} ms")
    print(
        f"  {'+ save() every 5 min, per scrape':<36} {save:7.2f} ms  ({r['save_ms']:.1f} ms "
        f"per save, state {r['state_kib']:.0f} KiB)"
    )
    f = r["fetch"]
    req = r["requests_per_scrape"]
    extra = (f["thread_cpu_ms"] - f["inline_cpu_ms"]) * req
    print(
        f"  {f'+ a thread per request (x {req:.1f})':<36} {extra:7.2f} ms  (one GET: "
        f"{f['inline_wall_ms']:.1f} ms wall inline, {f['thread_wall_ms']:.1f} ms through "
        f"serve's thread-per-request wait; CPU {f['inline_cpu_ms']:.2f} vs "
        f"{f['thread_cpu_ms']:.2f} ms, client side)"
    )
    cores = (total + save + max(0.0, extra)) * per_s / 1e3
    print(
        f"  at {n} targets every {interval:g} s ({per_s:.1f} scrapes/s): "
        f"{cores:.2f} cores for the scrapes alone"
    )
    print(
        f"  first scrape of a target (restoring it when aged): {r['first_scrape_ms']:.1f} ms; "
        f"creating a worker: {r['create_ms_per_target']:.1f} ms "
        f"({r['create_ms_per_target'] * n / 1e3:.0f} s for {n}); closing: "
        f"{r['close_ms_per_target']:.1f} ms per target"
    )
    print(
        f"  memory: {r['rss_per_target_kib']:.0f} KiB per target once created, "
        f"{r['rss_after_first_scrape_kib']:.0f} KiB per target (all {n}) after "
        f"{r['scrapes']} of them scraped"
    )
    print(
        f"  one /metrics answer: {r['metrics_ms']:.0f} ms ({r['metrics_kib']:.0f} KiB); "
        f"one retention pass: {r['retention_ms']:.0f} ms"
    )
    print(
        f"  each worker's restore reads its target row ({r['targets_query_ms']:.2f} ms) and "
        f"its segment rows ({r['files_query_ms']:.2f} ms for {r['file_rows']}), on its first "
        f"scrape: {(r['targets_query_ms'] + r['files_query_ms']) * n / 1e3:.2f} s for {n} targets"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="targets")
    ap.add_argument("--scrapes", type=int, default=300, help="scrapes profiled (per pass)")
    ap.add_argument("--ages", default="0,1440", help="history per target, in snapshots")
    ap.add_argument("--helpers", type=int, default=2, help="processes simulating the targets")
    ap.add_argument("--top", type=int, default=25, help="cProfile rows shown")
    ap.add_argument("--child", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    # a SIGTERM unwinds like Ctrl-C, so serve and the target helpers are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scrapes = min(args.scrapes, args.n)
    if args.child >= 0:
        r = child(args.n, args.child, scrapes, args.helpers, args.top)
        print(json.dumps(r))
        return 0
    results = []
    for age in (int(a) for a in args.ages.split(",")):
        cmd = [sys.executable, __file__, "--n", str(args.n), "--scrapes", str(scrapes)]
        cmd += ["--helpers", str(args.helpers), "--top", str(args.top), "--child", str(age)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        show(r, 60.0)
        print(f"  cProfile, by own time ({r['scrapes']} scrapes):")
        print("\n".join("    " + line for line in r["cprofile"].splitlines()[: args.top + 12]))
    ages = sorted({60, 360, 1440, *(a for a in (r["age"] for r in results) if a)})
    costs = judge_cost(ages)
    print("\none judgement (analysis + rules, best of 3) against history, 60 s apart:")
    for c in costs:
        print(
            f"  {c['scenario']:<24} {c['age']:>5} snapshots: "
            f"{c['ms']:6.1f} ms (window {c['window_s'] / 3600:5.2f} h, {c['verdict']})"
        )
    print(json.dumps([{k: v for k, v in r.items() if k != "cprofile"} for r in results] + costs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
