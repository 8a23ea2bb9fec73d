"""Benchmark: what watching costs the watched service (a forced GC per snapshot).

Every snapshot fetches ``heap?gc=1&debug=1``, a full GC of the target. On a big
heap that is CPU seconds of marking and a slower service while it runs. The
target is the zoo's ``bench-live-heap``: a profile store holding a live heap of
``--heap`` GiB (small pointer-rich records), answering ``/api/profile`` lookups
(16 KiB of garbage each, ``--kb``). Load comes from the zoo's
``bench-load-client`` peer, a separate Go process sending ``--rate`` requests a
second open loop, whose latencies run from when each request was due.

Part 1, the cost of one forced GC, at each of ``--gc-heaps`` GiB under that
load: the wall time of ``heap?gc=1&debug=1`` against ``heap?debug=1`` (no GC,
what a snapshot with --gc-every fetches instead), the GC's stop-the-world pause
(MemStats PauseNs) and the service's extra CPU while it ran (/proc/PID/stat,
minus its rate in the seconds before).

Part 2, the service's p99 latency and CPU over ``--phase`` seconds of load,
each phase in one of these modes (the anchor first, all in the same run):
  none           - nobody watches (the anchor)
  watch 60s      - leakhunter's collection loop (``collect``, what `watch` and
                   `serve` run) every 60 s
  watch 15s      - every 15 s (watch's default interval)
  watch 15s gcK  - every 15 s with ``gc_every=K``: one forced GC in K snapshots
With ``--runs N`` the modes take turns N times and medians are printed.

    python bench/bench_target_load.py [--heap 1] [--gc-heaps 1,2] [--big]
        [--phase 60] [--rate 400] [--kb 16] [--gc-every 4] [--runs 1]

``--big`` adds a 4 GiB heap to part 1 (the service then holds ~8 GiB at its GC
goal). The default run takes about six minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from leakhunter.collect.fetch import FetchOptions
from leakhunter.collect.process import spawn
from leakhunter.collect.watch import WatchOptions, collect
from leakhunter.formats.memstats import MemStats, parse_memstats
from leakhunter.harness.build import build_zoo
from leakhunter.harness.run import RunningScenario, start

GIB = 1 << 30
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return a process's CPU time so far (user + system, all threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime: fields 14, 15


class LoadClient:
    """The bench-load-client peer: one Go process that drives load on request."""

    def __init__(self, binary: Path) -> None:
        self.proc = spawn([str(binary), "-peer", "bench-load-client"])
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("peer listening on "):
            self.close()
            raise SystemExit(f"load client did not start: {line!r}")
        self.url = "http://" + line.split()[-1]

    def run(self, target: str, rate: float, seconds: float, kb: int) -> dict[str, object]:
        """Send rate requests/s to target for seconds; return the client's latency figures."""
        params = {"target": target, "rate": rate, "seconds": seconds, "kb": kb}
        resp = httpx.get(self.url + "/run", params=params, timeout=seconds + 120)
        resp.raise_for_status()
        out: dict[str, object] = resp.json()
        return out

    def close(self) -> None:
        """Stop the client process."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Background:
    """A load phase running in a thread while the caller measures something else."""

    client: LoadClient
    target: str
    rate: float
    seconds: float
    kb: int
    result: dict[str, object] = field(default_factory=dict)
    thread: threading.Thread | None = None

    def __enter__(self) -> Background:
        def work() -> None:
            self.result = self.client.run(self.target, self.rate, self.seconds, self.kb)

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.thread is not None
        self.thread.join()


def memstats(url: str, gc: bool) -> tuple[MemStats, float]:
    """Fetch the target's MemStats (after a forced GC when gc); return them and the seconds."""
    t0 = time.monotonic()
    body = httpx.get(
        url + "/debug/pprof/heap", params={"debug": 1, **({"gc": 1} if gc else {})}, timeout=120
    ).content
    return parse_memstats(body), time.monotonic() - t0


def start_target(binary: Path, gib: float, budget: float) -> RunningScenario:
    """Start bench-live-heap with gib GiB live and wait until its heap is built."""
    run = start("bench-live-heap", duration=budget, linger=60, scale=gib, binary=binary)
    deadline = time.monotonic() + 300
    while not any(line.startswith("heap ready") for line in run.stdout_lines):
        if not run.running or time.monotonic() > deadline:
            run.stop()
            raise SystemExit(f"bench-live-heap did not build its heap: {run.stderr_tail}")
        time.sleep(0.2)
    ready = next(line for line in run.stdout_lines if line.startswith("heap ready"))
    print(f"  target {gib:g} GiB at {run.url}: {ready}", flush=True)
    return run


@dataclass
class GcCost:
    """One forced GC, measured from outside and from the target's MemStats."""

    forced_s: float
    plain_s: float
    pause_ms: float
    cpu_s: float
    heap: int
    leak_s: float  # goroutineleak?debug=0, whose leak detection is a GC too
    leak_cpu_s: float


def cpu_rate(pid: int, seconds: float) -> float:
    """Return the cores a process uses over the next seconds."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def one_gc(run: RunningScenario, settle: float) -> GcCost:
    """Force one GC on a loaded target (and one goroutineleak GC); return what they cost."""
    base = cpu_rate(run.pid, settle)  # the service's own rate: load and natural GCs
    before, plain_s = memstats(run.url, gc=False)
    c1 = cpu_seconds(run.pid)
    after, forced_s = memstats(run.url, gc=True)
    extra = cpu_seconds(run.pid) - c1 - base * forced_s
    last = after.pause_ns[(after.num_gc + 255) % 256] if after.pause_ns else 0
    if after.num_gc - before.num_gc != 1:
        print(f"    ({after.num_gc - before.num_gc} GCs ended during the forced one)")
    base = cpu_rate(run.pid, settle / 2)
    c2, t2 = cpu_seconds(run.pid), time.monotonic()
    httpx.get(run.url + "/debug/pprof/goroutineleak?debug=0", timeout=120).raise_for_status()
    leak_s = time.monotonic() - t2
    leak_cpu = cpu_seconds(run.pid) - c2 - base * leak_s
    return GcCost(forced_s, plain_s, last / 1e6, extra, after.heap_alloc, leak_s, leak_cpu)


def gc_costs(
    binary: Path, client: LoadClient, heaps: list[float], args: argparse.Namespace
) -> list[tuple[float, list[GcCost]]]:
    """Part 1: three forced GCs at each heap size, under load."""
    out = []
    for gib in heaps:
        with start_target(binary, gib, 900) as run:
            shots = 3
            seconds = shots * (1.5 * args.settle + 2 + 2 * gib) + 5
            with Background(client, run.url, args.rate, seconds, args.kb):
                time.sleep(2)
                costs = [one_gc(run, args.settle) for _ in range(shots)]
        out.append((gib, costs))
        med = statistics.median
        print(
            f"  {gib:g} GiB: forced {med(c.forced_s for c in costs):.2f} s, "
            f"pause {med(c.pause_ms for c in costs):.2f} ms, "
            f"GC CPU {med(c.cpu_s for c in costs):.2f} s",
            flush=True,
        )
    return out


@dataclass
class Phase:
    """One load phase's figures."""

    mode: str
    p50: float
    p99: float
    p999: float
    max: float
    worst_second: float  # the highest p99 of the requests due in one second
    cpu: float  # cores used by the target, on average
    forced: int  # forced GCs in the phase
    natural: int  # GCs the service ran by itself
    snapshots: int
    errors: int


MODES = ("none", "watch 60s", "watch 15s", "watch 15s gcK")


def phase(
    run: RunningScenario, client: LoadClient, mode: str, args: argparse.Namespace, tmp: Path
) -> Phase:
    """Run one load phase in one mode; return its latency and CPU figures."""
    interval = 60.0 if mode == "watch 60s" else 15.0
    gc_every = args.gc_every if mode.endswith("gcK") else 1
    n = max(1, math.floor(args.phase / interval))
    options = WatchOptions(
        interval=interval,
        snapshots=n,
        gc_every=gc_every,
        fetch=FetchOptions(timeout=120.0, retries=0),
    )
    before, _ = memstats(run.url, gc=False)
    c0, t0 = cpu_seconds(run.pid), time.monotonic()
    watched = {"snapshots": 0}

    def watch() -> None:
        out = tmp / f"{mode.replace(' ', '-')}-{time.monotonic_ns()}"
        watched["snapshots"] = collect(run.url, options, out).snapshots

    watcher = threading.Thread(target=watch, daemon=True)
    with Background(client, run.url, args.rate, args.phase, args.kb) as load:
        if mode != "none":
            watcher.start()
    cores = (cpu_seconds(run.pid) - c0) / (time.monotonic() - t0)
    if mode != "none":
        watcher.join()
    after, _ = memstats(run.url, gc=False)
    r = {k: float(v) for k, v in load.result.items() if isinstance(v, int | float)}
    per_second = load.result.get("per_second_p99_ms")
    worst = max(per_second) if isinstance(per_second, list) and per_second else 0.0
    forced = after.num_forced_gc - before.num_forced_gc
    return Phase(
        mode,
        r["p50_ms"],
        r["p99_ms"],
        r["p999_ms"],
        r["max_ms"],
        float(worst),
        cores,
        forced,
        after.num_gc - before.num_gc - forced,
        watched["snapshots"],
        int(r["errors"]),
    )


def print_gc_table(costs: list[tuple[float, list[GcCost]]]) -> None:
    """Print part 1 as a table (medians of three)."""
    med = statistics.median
    print("\nOne forced GC under load (median of 3); GC CPU = the service's CPU beyond its rate")
    print(
        f"{'live heap':>10} {'HeapAlloc':>10} {'heap?gc=1':>10} {'heap?debug=1':>13} "
        f"{'ratio':>6} {'STW pause':>10} {'GC CPU':>8} {'goroutineleak':>14} {'its CPU':>8}"
    )
    for gib, cs in costs:
        forced, plain = med(c.forced_s for c in cs), med(c.plain_s for c in cs)
        print(
            f"{gib:>6g} GiB {med(c.heap for c in cs) / GIB:>6.2f} GiB {forced:>8.2f} s "
            f"{plain * 1e3:>10.1f} ms {forced / max(plain, 1e-6):>5.0f}x "
            f"{med(c.pause_ms for c in cs):>7.2f} ms {med(c.cpu_s for c in cs):>6.2f} s "
            f"{med(c.leak_s for c in cs):>12.2f} s {med(c.leak_cpu_s for c in cs):>6.2f} s"
        )


def print_phase_table(phases: list[Phase], args: argparse.Namespace) -> None:
    """Print part 2 as a table: medians per mode, ratios to the unwatched anchor."""
    med = statistics.median
    by = {m: [p for p in phases if p.mode == m] for m in MODES}
    base_p99 = med(p.p99 for p in by["none"])
    base_cpu = med(p.cpu for p in by["none"])
    print(
        f"\nService under {args.rate:g} req/s, {args.heap:g} GiB live heap, "
        f"{args.phase:g} s phases, K={args.gc_every} (median of {args.runs})"
    )
    print(
        f"{'mode':<15} {'snaps':>5} {'forced':>6} {'own GCs':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'p99/none':>8} {'p99.9 ms':>8} {'max ms':>7} {'worst 1s p99':>12} {'CPU cores':>9} "
        f"{'CPU/none':>8}"
    )
    for m in MODES:
        ps = by[m]
        p99, cpu = med(p.p99 for p in ps), med(p.cpu for p in ps)
        label = m.replace("gcK", f"gc{args.gc_every}")
        print(
            f"{label:<15} {med(p.snapshots for p in ps):>5.0f} {med(p.forced for p in ps):>6.0f} "
            f"{med(p.natural for p in ps):>7.0f} {med(p.p50 for p in ps):>7.2f} {p99:>7.2f} "
            f"{p99 / base_p99:>7.2f}x {med(p.p999 for p in ps):>8.1f} "
            f"{med(p.max for p in ps):>7.1f} {med(p.worst_second for p in ps):>12.1f} "
            f"{cpu:>9.3f} {cpu / base_cpu:>7.2f}x"
        )
    errors = sum(p.errors for p in phases)
    if errors:
        print(f"({errors} requests failed)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--heap", type=float, default=1.0, help="GiB live in the load phases")
    ap.add_argument("--gc-heaps", default="1,2", help="GiB sizes of part 1 (comma-separated)")
    ap.add_argument("--big", action="store_true", help="add 4 GiB to part 1")
    ap.add_argument("--phase", type=float, default=60.0, help="seconds per load phase")
    ap.add_argument("--rate", type=float, default=400.0, help="requests per second")
    ap.add_argument("--kb", type=int, default=16, help="KiB of garbage per request")
    ap.add_argument("--gc-every", type=int, default=4, help="K of the gc_every mode")
    ap.add_argument("--runs", type=int, default=1, help="turns of the four modes")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds between forced GCs")
    ap.add_argument("--skip-gc", action="store_true", help="skip part 1")
    ap.add_argument("--skip-load", action="store_true", help="skip part 2")
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args()
    heaps = [float(x) for x in args.gc_heaps.split(",") if x] + ([4.0] if args.big else [])
    binary = build_zoo()
    client = LoadClient(binary)
    costs: list[tuple[float, list[GcCost]]] = []
    phases: list[Phase] = []
    try:
        if not args.skip_gc:
            print("part 1: the cost of one forced GC", flush=True)
            costs = gc_costs(binary, client, heaps, args)
        if not args.skip_load:
            print("part 2: the service watched and not", flush=True)
            budget = args.runs * len(MODES) * (args.phase + 30) + 120
            with (
                start_target(binary, args.heap, budget) as run,
                tempfile.TemporaryDirectory(prefix="bench-target-load-") as tmp,
            ):
                client.run(run.url, args.rate, 5, args.kb)  # warm connections and caches
                for r in range(args.runs):
                    for mode in MODES[r % len(MODES) :] + MODES[: r % len(MODES)]:
                        p = phase(run, client, mode, args, Path(tmp))
                        phases.append(p)
                        print(
                            f"  run {r + 1} {mode:<14}: p99 {p.p99:7.2f} ms, CPU {p.cpu:.3f} "
                            f"cores, {p.forced} forced + {p.natural} own GCs",
                            flush=True,
                        )
    finally:
        client.close()
    if costs:
        print_gc_table(costs)
    if phases:
        print_phase_table(phases, args)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "gc": [{"gib": g, "costs": [c.__dict__ for c in cs]} for g, cs in costs],
                    "phases": [p.__dict__ for p in phases],
                    "args": vars(args),
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
