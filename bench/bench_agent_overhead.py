"""Overhead of leakhunter.agent on a CPU- and allocation-heavy Python workload.

Each mode runs the same workload in a fresh subprocess, side by side with a
no-agent anchor run started at the same moment (one core each): this VM's speed
drifts by +-15% within minutes, and both runs of a pair see the same drift. The
figure is the median over the pairs of mode/anchor, in wall time and in CPU time
(all threads, so the agent's own work counts); best-of wall times are shown too.

  none        - no agent, nothing traced (the anchor)
  agent       - leakhunter.agent.start() always on (type census), scraped by a
                thread of this process doing what `watch` does every snapshot
                (heap?gc=1&debug=1, heap, goroutine?debug=0, /debug/vars) every
                --interval s (default 15 s, watch's default)
  agent@Ns    - the same, scraped every --stress-interval s (default 1 s)
  agent-trace - (--with-trace) the agent with trace=True (tracemalloc, 16 frames)
  tracemalloc - tracemalloc.start() (1 frame) always on, no agent
  memray      - `python -m memray run` on the workload (if memray is installed)

The agent modes run --work units (default 5, ~20 s: long enough that the census
and full collections reach their duty cycle, as in a service that runs for
hours); the tracing tools, 10x slower, run --slow-work units against an anchor
of the same size.

    python bench/bench_agent_overhead.py [--reps 5] [--work 5] [--interval 15]
        [--stress-interval 1] [--slow-reps 2] [--slow-work 1] [--with-trace]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

import httpx

PIN = os.environ.get('PIN') == '1'

WORKLOAD = r"""
import functools, json, random, sys, time

def run(scale):
    rng = random.Random(7)
    cache = functools.lru_cache(maxsize=20000)(lambda k: {"k": k, "v": [k] * 8, "s": str(k) * 4})
    total = 0
    for i in range(int(60000 * scale)):
        key = rng.randrange(40000)
        doc = cache(key)
        rows = [{"id": j, "name": f"user-{j}", "tags": ["a", "b", str(j)]} for j in range(20)]
        text = json.dumps({"doc": doc, "rows": rows})
        back = json.loads(text)
        total += len(sorted(r["name"] for r in back["rows"])) + len(text)
    return total

def main():
    mode, scale = sys.argv[1], float(sys.argv[2])
    if mode.startswith("agent"):
        import leakhunter.agent
        agent = leakhunter.agent.start(trace=(mode == "agent-trace"))
        print(f"listening on 127.0.0.1:{agent.port}", flush=True)
    elif mode == "import":
        import leakhunter.agent
    elif mode == "idle":
        import leakhunter.agent
        agent = leakhunter.agent.start()
    elif mode == "tracemalloc":
        import tracemalloc
        tracemalloc.start()
    print("ready", flush=True)
    sys.stdin.readline()  # "go": both runs of a pair start together
    t0, c0 = time.perf_counter(), time.process_time()
    run(scale)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"seconds": wall, "cpu": cpu}), flush=True)

main()
"""

SCRAPES = (
    "/debug/pprof/heap?gc=1&debug=1",
    "/debug/pprof/heap",
    "/debug/pprof/goroutine?debug=0",
    "/debug/vars",
)


def _scrape(url: str, interval: float, stop: threading.Event, count: list[int]) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                for path in SCRAPES:
                    client.get(url + path)
                count[0] += 1
            except httpx.HTTPError:
                return
            stop.wait(max(interval - (time.monotonic() - t0), 0))


@dataclass
class Run:
    """One timed workload run: wall seconds, CPU seconds of all its threads, scrapes served."""

    wall: float
    cpu: float
    scrapes: int


class _Child:
    """A workload process in one mode, scraped like `watch` does if it runs an agent."""

    def __init__(
        self, mode: str, work: float, interval: float, script: str, cpu: int | None = None
    ) -> None:
        kind = mode.split("@")[0]
        cmd = [sys.executable, script, kind, str(work)]
        self.tmp = None
        if kind == "memray":
            self.tmp = tempfile.mkdtemp(prefix="memray-bench-")
            cmd = [sys.executable, "-m", "memray", "run", "-q", "-f", "-o", f"{self.tmp}/o.bin"]
            cmd += [script, kind, str(work)]
        self.mode, self.interval = mode, interval
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if cpu is not None:
            os.sched_setaffinity(self.proc.pid, {cpu})
        self.stop = threading.Event()
        self.count = [0]
        self.scraper: threading.Thread | None = None

    def ready(self) -> None:
        """Wait until the workload is set up (and start scraping its agent)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("listening on "):
                url = "http://" + line.split()[-1]
                args = (url, self.interval, self.stop, self.count)
                self.scraper = threading.Thread(target=_scrape, args=args)
                self.scraper.start()
            elif line.startswith("ready"):
                return
        raise SystemExit(f"{self.mode}: the workload ended before it was ready")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> Run:
        """Wait for the timed run's figures; stop scraping; reap the process."""
        assert self.proc.stdout is not None
        doc = None
        for line in self.proc.stdout:
            if line.startswith("{"):
                doc = json.loads(line)
                break
        self.stop.set()
        self.proc.wait(timeout=60)
        if self.scraper is not None:
            self.scraper.join(timeout=30)
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if doc is None:
            raise SystemExit(f"{self.mode}: the workload did not report its time")
        return Run(float(doc["seconds"]), float(doc["cpu"]), self.count[0])


def run_pair(mode: str, work: float, interval: float, script: str) -> tuple[Run, Run]:
    """Run ``mode`` and the no-agent anchor side by side (one core each), started together.

    This VM's speed drifts by +-15% within minutes; two runs at the same time see
    the same drift, so their ratio keeps only what the mode itself costs.
    """
    cpus = sorted(os.sched_getaffinity(0))
    pin = (cpus[0], cpus[1]) if len(cpus) >= 2 and PIN else (None, None)
    children = [_Child(mode, work, interval, script, pin[0]), _Child("none", work, 0.0, script, pin[1])]
    for child in children:
        child.ready()
    for child in children:
        child.go()
    first, anchor = (child.result() for child in children)
    return first, anchor


class Series:
    """Runs of one mode and their ratios to the anchor beside each (wall and CPU time)."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def line(self, mode: str) -> str:
        best = min(r.wall for r in self.runs)
        wall, cpu = statistics.median(self.wall), statistics.median(self.cpu)
        spread = f"{min(self.wall):.3f}-{max(self.wall):.3f}"
        scrapes = max(r.scrapes for r in self.runs)
        return f"{mode:12} {best:8.3f} {wall:8.3f} {spread:>13} {cpu:8.3f} {scrapes:8d}"


def _pairs(
    modes: list[str], reps: int, work: float, intervals: dict[str, float], script: str
) -> dict[str, Series]:
    """Run each mode ``reps`` times beside an anchor run; the anchor's series is its own."""
    out = {m: Series() for m in ["none", *modes]}
    for rep in range(reps):
        for mode in modes:
            run, anchor = run_pair(mode, work, intervals.get(mode, 0.0), script)
            for m, r in ((mode, run), ("none", anchor)):
                out[m].runs.append(r)
            out[mode].wall.append(run.wall / anchor.wall)
            out[mode].cpu.append(run.cpu / anchor.cpu)
            out["none"].wall.append(1.0)
            out["none"].cpu.append(1.0)
            print(
                f"rep {rep + 1} work {work:g}: {mode:12} {run.wall:7.3f} s"
                f"  beside none {anchor.wall:7.3f} s  ratio {out[mode].wall[-1]:.3f}"
                f"  cpu ratio {out[mode].cpu[-1]:.3f}  ({run.scrapes} scrapes)",
                file=sys.stderr,
            )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="pairs per agent mode (default 5)")
    ap.add_argument("--work", type=float, default=5.0, help="agent modes' workload (1.0 ~ 4 s)")
    ap.add_argument("--interval", type=float, default=15.0, help="watch's scrape interval (s)")
    ap.add_argument("--stress-interval", type=float, default=1.0, help="dense scrape interval")
    ap.add_argument("--slow-reps", type=int, default=2, help="pairs per tracing tool")
    ap.add_argument("--slow-work", type=float, default=1.0, help="tracing tools' workload")
    ap.add_argument(
        "--with-trace", action="store_true", help="also the agent with trace=True (very slow)"
    )
    ap.add_argument("--modes", nargs="*", help="only these modes (the anchor always runs)")
    args = ap.parse_args()
    stress = f"agent@{args.stress_interval:g}s"
    fast = ["agent", stress]
    slow = ["tracemalloc"] + (["agent-trace"] if args.with_trace else [])
    if importlib.util.find_spec("memray") is not None:
        slow.append("memray")
    else:
        print("memray: not installed (pip install memray) - skipped", file=sys.stderr)
    if args.modes:
        fast = [m for m in fast if m in args.modes]
        slow = [m for m in slow if m in args.modes]
    intervals = {"agent": args.interval, stress: args.stress_interval}
    intervals["agent-trace"] = args.interval
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(WORKLOAD)
        script = fh.name
    try:
        results = _pairs(fast, args.reps, args.work, intervals, script) if fast else {}
        slow_results = _pairs(slow, args.slow_reps, args.slow_work, intervals, script)
    finally:
        os.unlink(script)
    header = f"{'mode':12} {'best s':>8} {'ratio':>8} {'ratio range':>13} {'cpu':>8} {'scrapes':>8}"
    print(f"\nratio to the anchor beside each run ({args.reps} pairs, work {args.work:g}):")
    print(header)
    for mode, series in results.items():
        print(series.line(mode))
    if slow:
        print(f"\ntracing tools ({args.slow_reps} pairs, work {args.slow_work:g}):")
        print(header)
        for mode, series in slow_results.items():
            print(series.line(mode))
    for mode, label in (("agent", f"scraped every {args.interval:g} s"), (stress, "")):
        if mode in results:
            overhead = statistics.median(results[mode].wall) - 1
            cpu = statistics.median(results[mode].cpu) - 1
            verdict = "meets" if overhead <= 0.05 else "MISSES"
            where = label or f"scraped every {args.stress_interval:g} s"
            print(
                f"always-on agent overhead, {where}: {overhead * 100:+.1f}% wall,"
                f" {cpu * 100:+.1f}% cpu (median of {args.reps}; {verdict} the 5% target)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
