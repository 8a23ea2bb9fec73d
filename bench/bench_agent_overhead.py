"""Overhead of leakhunter.agent, always on and scraped, on a CPU- and allocation-heavy service.

    python bench/bench_agent_overhead.py                      # the figures of issue 20
    python bench/bench_agent_overhead.py --decompose          # ... and where the cost goes
    python bench/bench_agent_overhead.py --runs 1 --pairs 2   # a quick look (not a result)

The workload is a service in miniature: requests handled as asyncio tasks (so
the agent's task factory is paid for too), each doing cache lookups, JSON and
sorting (~0.3 ms of CPU), on a warm 20,000-entry cache.

What is measured. Each run of a mode is paired with a run of the bare workload
(the anchor) doing the same number of requests; the figure of a pair is the
mode's CPU time over the anchor's (all threads: the agent's own work counts),
and the figure of a mode is the median over ``--pairs`` pairs. The whole
measurement is repeated ``--runs`` times (three by default) and every run is
printed, so whether a figure reproduces is on the page.

How a busy machine is kept out of the ratio:
- both processes of a pair run at the same time, pinned to the same CPU, so
  they see the same load, the same frequency and the same neighbours; this
  process moves to the other CPUs;
- they are started in alternating order, and with the same PYTHONHASHSEED (a
  new one per pair: string hashing changes dict collisions, worth +-1% of CPU);
- the modes are interleaved pair by pair, not run one after the other.

Scrape interval. A scrape set is what ``watch`` fetches per snapshot
(heap?gc=1&debug=1, heap, goroutine?debug=0, /debug/vars). "Every I s" means
once per I seconds of the workload thread's own CPU time, first at I/2: the
workload says when it is due (it reads its thread's CPU clock between
batches) and this process scrapes at once. A service busy on one core and
scraped every I s of wall time gets exactly that; the figure does not depend
on how slow the shared machine is. A run lasts one interval (one scrape, in
its middle), so a 60 s column takes about 2 min of wall time per pair. The
run's size follows the machine's pace (requests per CPU second of the previous
anchor), so that a run stays one interval long; ``anchor s`` in the tables
says how long the runs were.

Modes:
  agent@Is    leakhunter.agent.start(), scraped every I s (--intervals, default 15 60)
  started     (--decompose) start(), never scraped: the always-on part alone
              (task factory, thread hook, server thread)
  imported    (--decompose) `import leakhunter.agent` only: what the import does to
              the application (its GC walks the agent's modules' objects too)
  tracemalloc (--with-tracing) tracemalloc.start() always on, no agent
  agent-trace (--with-tracing) the agent with trace=True (tracemalloc, 16 frames)
  memray      (--with-tracing) `python -m memray run` (if memray is installed)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field

import httpx

WORKLOAD = r"""
import asyncio, functools, json, random, sys, time

# A service in miniature: requests handled as asyncio tasks, 32 in flight, each
# doing 4 rounds of cache lookups, JSON encoding/decoding and sorting (~0.3 ms).
CACHE = functools.lru_cache(maxsize=20000)(lambda k: {"k": k, "v": [k] * 8, "s": str(k) * 4})

async def handle(rng):
    total = 0
    for _ in range(4):
        doc = CACHE(rng.randrange(40000))
        rows = [{"id": j, "name": f"user-{j}", "tags": ["a", "b", str(j)]} for j in range(20)]
        text = json.dumps({"doc": doc, "rows": rows})
        back = json.loads(text)
        total += len(sorted(r["name"] for r in back["rows"])) + len(text)
    await asyncio.sleep(0)
    return total

async def serve(rng, requests, interval):
    # says "scrape" once per `interval` s of this thread's CPU time, first at interval/2
    due = time.thread_time() + interval / 2 if interval > 0 else float("inf")
    for base in range(0, requests, 32):
        batch = range(base, min(requests, base + 32))
        await asyncio.gather(*(asyncio.create_task(handle(rng)) for _ in batch))
        if time.thread_time() >= due:
            print("scrape", flush=True)
            due += interval

async def main():
    mode, requests, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    rng = random.Random(7)
    agent = None
    if mode in ("imported", "started", "agent", "agent-trace"):
        import leakhunter.agent
    if mode in ("started", "agent", "agent-trace"):
        agent = leakhunter.agent.start(trace=(mode == "agent-trace"))  # lists this loop's tasks
        print(f"listening on 127.0.0.1:{agent.port}", flush=True)
    elif mode == "tracemalloc":
        import tracemalloc
        tracemalloc.start()
    await serve(rng, min(requests, 6000), 0)  # warm the cache (both runs alike)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go": both runs of a pair start together
    c0, m0 = time.process_time(), time.thread_time()
    await serve(rng, requests, interval)
    cpu = time.process_time() - c0
    main_cpu = time.thread_time() - m0  # this thread; the rest is the agent's threads
    print(json.dumps({"cpu": cpu, "main_cpu": main_cpu}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # exit once a scrape in flight is answered

asyncio.run(main())
"""

SCRAPES = (
    "/debug/pprof/heap?gc=1&debug=1",
    "/debug/pprof/heap",
    "/debug/pprof/goroutine?debug=0",
    "/debug/vars",
)
#: modes that serve the agent's endpoints (the others are never scraped)
SCRAPED = ("agent", "agent-trace")


@dataclass(frozen=True)
class Mode:
    """A way of running the workload: its kind, scrape interval (0: none) and CPU seconds."""

    name: str
    kind: str
    interval: float
    seconds: float


@dataclass
class Run:
    """One timed workload run: CPU seconds (all threads; the workload's own thread), scrapes."""

    cpu: float
    main_cpu: float
    scrapes: int


class _Child:
    """A workload process in one mode; scraped whenever it says a scrape is due."""

    def __init__(
        self, kind: str, requests: int, interval: float, script: str, cpu: int | None, seed: int
    ) -> None:
        cmd = [sys.executable, script, kind, str(requests), f"{interval:g}"]
        self.tmp = None
        if kind == "memray":
            self.tmp = tempfile.mkdtemp(prefix="memray-bench-")
            cmd = [sys.executable, "-m", "memray", "run", "-q", "-f", "-o", f"{self.tmp}/o.bin"]
            cmd += [script, kind, str(requests), "0"]
        env = dict(os.environ, PYTHONHASHSEED=str(seed))
        self.kind = kind
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        if cpu is not None:
            os.sched_setaffinity(self.proc.pid, {cpu})  # before it starts its threads
        self.url: str | None = None
        self.scrapes = 0
        self.doc: dict[str, float] | None = None
        self.reader: threading.Thread | None = None

    def ready(self) -> None:
        """Wait until the workload is set up and warm (noting its agent's address)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("listening on "):
                self.url = "http://" + line.split()[-1]
            elif line.startswith("ready"):
                return
        raise SystemExit(f"{self.kind}: the workload ended before it was ready")

    def go(self) -> None:
        """Start the timed run; scrape it on its own signal from a reader thread."""
        assert self.proc.stdin is not None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with httpx.Client(timeout=120) as client:
            for line in self.proc.stdout:
                if line.startswith("scrape") and self.url is not None:
                    for path in SCRAPES:
                        client.get(self.url + path)
                    self.scrapes += 1
                elif line.startswith("{"):
                    self.doc = json.loads(line)
                    return

    def result(self) -> Run:
        """Wait for the timed run's figures; reap the process."""
        assert self.reader is not None and self.proc.stdin is not None
        self.reader.join()
        self.proc.stdin.write("bye\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=120)
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self.doc is None:
            raise SystemExit(f"{self.kind}: the workload did not report its time")
        return Run(self.doc["cpu"], self.doc["main_cpu"], self.scrapes)


def _share_one_cpu() -> int | None:
    """Return the CPU both runs of a pair share (this process moves to the others), or None."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None
    os.sched_setaffinity(0, cpus[:-1])
    return cpus[-1]


def run_pair(
    mode: Mode, requests: int, script: str, cpu: int | None, flip: bool
) -> tuple[Run, Run]:
    """Run ``mode`` and the bare anchor at once, on one shared CPU; return (mode's, anchor's).

    Two processes time-sliced on one core see the same drift of this VM's
    speed millisecond by millisecond (two anchors measured this way agree
    within 1%), and the same neighbours on a shared machine.
    """
    seed = random.randrange(1 << 31)
    specs = [(mode.kind, mode.interval), ("none", 0.0)]
    if flip:
        specs.reverse()
    children = [_Child(kind, requests, every, script, cpu, seed) for kind, every in specs]
    for child in children:
        child.ready()
    for child in children:
        child.go()
    runs = [child.result() for child in children]
    if flip:
        runs.reverse()
    return runs[0], runs[1]


def calibrate(script: str, cpu: int | None) -> float:
    """Return the workload's requests per CPU second on this machine now (anchor alone)."""
    child = _Child("none", 4000, 0.0, script, cpu, 0)
    child.ready()
    child.go()
    run = child.result()
    return 4000 / run.main_cpu


@dataclass
class Series:
    """Pairs of one mode: ratios to the anchor, side CPU, scrapes per run."""

    mode: Mode
    ratios: list[float] = field(default_factory=list)
    side: list[float] = field(default_factory=list)
    scrapes: list[int] = field(default_factory=list)
    anchor_cpu: list[float] = field(default_factory=list)

    def add(self, run: Run, anchor: Run) -> None:
        self.ratios.append(run.cpu / anchor.cpu)
        self.side.append((run.cpu - run.main_cpu) / run.main_cpu)
        self.scrapes.append(run.scrapes)
        self.anchor_cpu.append(anchor.cpu)

    @property
    def overhead(self) -> float:
        return statistics.median(self.ratios) - 1

    def line(self) -> str:
        lo, hi = (min(self.ratios) - 1) * 100, (max(self.ratios) - 1) * 100
        scrapes = f"{min(self.scrapes)}-{max(self.scrapes)}"
        return (
            f"{self.mode.name:12} {len(self.ratios):5d} {statistics.median(self.anchor_cpu):9.1f}"
            f" {scrapes:>8} {self.overhead * 100:+9.2f}% {lo:+7.2f}..{hi:+.2f}%"
            f" {statistics.median(self.side) * 100:+9.2f}%"
        )


HEADER = (
    f"{'mode':12} {'pairs':>5} {'anchor s':>9} {'scrapes':>8} {'overhead':>10}"
    f" {'range':>16} {'side cpu':>10}"
)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def measure(modes: list[Mode], pairs: int, script: str, cpu: int | None) -> dict[str, Series]:
    """Run ``pairs`` pairs of every mode, interleaved; return each mode's series."""
    rate = calibrate(script, cpu)
    print(f"  calibrated: {rate:.0f} requests per CPU second", file=sys.stderr)
    out = {m.name: Series(m) for m in modes}
    for i in range(pairs):
        for mode in modes:
            requests = max(64, round(rate * mode.seconds))
            run, anchor = run_pair(mode, requests, script, cpu, flip=bool(i % 2))
            out[mode.name].add(run, anchor)
            # a shared machine's speed drifts: the next run's size follows the anchor's
            # pace, so a run stays one interval of the workload's CPU (one scrape per
            # interval, not per whatever the run happened to last)
            rate = requests / anchor.main_cpu
            print(
                f"  pair {i + 1}: {mode.name:12} {run.cpu:7.2f} s cpu, anchor {anchor.cpu:7.2f} s,"
                f" ratio {run.cpu / anchor.cpu:.3f} ({run.scrapes} scrapes; load {_load()})",
                file=sys.stderr,
            )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="repeats of the whole measurement (3)")
    ap.add_argument("--pairs", type=int, default=6, help="pairs per mode and run (6)")
    ap.add_argument(
        "--intervals", type=float, nargs="+", default=[15.0, 60.0], help="scrape intervals (s)"
    )
    ap.add_argument("--decompose", action="store_true", help="also 'started' and 'imported'")
    ap.add_argument("--with-tracing", action="store_true", help="also tracemalloc/memray")
    ap.add_argument("--tracing-seconds", type=float, default=3.0, help="tracing runs' CPU s")
    args = ap.parse_args()
    targets = {15.0: 0.05, 60.0: 0.03}
    modes = [Mode(f"agent@{i:g}s", "agent", i, i) for i in args.intervals]
    if args.decompose:
        short = min(args.intervals)
        modes += [Mode("started", "started", 0.0, short), Mode("imported", "imported", 0.0, short)]
    if args.with_tracing:
        secs = args.tracing_seconds
        modes += [
            Mode("tracemalloc", "tracemalloc", 0, secs),
            Mode("agent-trace", "agent-trace", 0, secs),
        ]
        if importlib.util.find_spec("memray") is not None:
            modes.append(Mode("memray", "memray", 0, secs))
        else:
            print("memray: not installed (pip install -e '.[bench]') - skipped", file=sys.stderr)
    cpu = _share_one_cpu()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(WORKLOAD)
        script = fh.name
    results: list[dict[str, Series]] = []
    try:
        for r in range(args.runs):
            print(f"run {r + 1} of {args.runs} (load average {_load()})", file=sys.stderr)
            before = _load()
            series = measure(modes, args.pairs, script, cpu)
            results.append(series)
            print(f"\nrun {r + 1} of {args.runs} (load average {before} -> {_load()}):")
            print(HEADER)
            for s in series.values():
                print(s.line())
            sys.stdout.flush()
    finally:
        os.unlink(script)
    print(
        "\noverhead: median over the pairs of mode/anchor CPU time, minus 1; range: lowest"
        "\nand highest pair; anchor s: the anchor's CPU seconds per run; side cpu: CPU of"
        "\nthreads other than the workload's (the agent's server and handlers) as a share"
        "\nof the workload thread's"
    )
    print(f"\nalways-on agent overhead, median of {args.pairs} pairs, per run:")
    print(f"{'interval':>9} " + " ".join(f"{'run ' + str(i + 1):>8}" for i in range(args.runs)))
    ok = True
    for i in args.intervals:
        name = f"agent@{i:g}s"
        figures = [res[name].overhead for res in results]
        target = targets.get(i)
        verdict = ""
        if target is not None:
            met = all(f <= target for f in figures)
            ok &= met
            verdict = f"  {'meets' if met else 'MISSES'} the {target * 100:g}% target in every run"
        cells = " ".join(f"{f * 100:+7.2f}%" for f in figures)
        print(f"{i:8g}s {cells}{verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
