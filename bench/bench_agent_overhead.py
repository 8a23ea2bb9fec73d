"""Overhead of leakhunter.agent on a CPU- and allocation-heavy Python workload.

Each mode runs the same workload in a fresh subprocess; the ratios are to the
no-agent anchor measured in the same run (best of --reps, modes interleaved):

  none        - no agent, nothing traced (the anchor)
  agent       - leakhunter.agent.start() always on (type census), scraped every
                --interval s by a thread of this process doing what `watch` does
                (heap?gc=1&debug=1, heap, goroutine?debug=0, /debug/vars)
  agent-trace - (--with-trace) the agent with trace=True (tracemalloc, 16 frames)
  tracemalloc - tracemalloc.start() (1 frame) always on, no agent
  memray      - `python -m memray run` on the workload (if memray is installed)

    python bench/bench_agent_overhead.py [--reps 3] [--work 1.0] [--interval 1.0] [--with-trace]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import httpx

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
    elif mode == "tracemalloc":
        import tracemalloc
        tracemalloc.start()
    print("ready", flush=True)
    t0 = time.perf_counter()
    run(scale)
    print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)

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


def run_once(mode: str, work: float, interval: float, script: str) -> tuple[float, int]:
    cmd = [sys.executable, script, mode, str(work)]
    tmp = None
    if mode == "memray":
        tmp = tempfile.mkdtemp(prefix="memray-bench-")
        cmd = [sys.executable, "-m", "memray", "run", "-q", "-f", "-o", f"{tmp}/out.bin", script]
        cmd += [mode, str(work)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    stop = threading.Event()
    count = [0]
    scraper = None
    seconds = None
    for line in proc.stdout:
        if line.startswith("listening on "):
            url = "http://" + line.split()[-1]
            scraper = threading.Thread(target=_scrape, args=(url, interval, stop, count))
            scraper.start()
        elif line.startswith("{"):
            seconds = float(json.loads(line)["seconds"])
            break
    stop.set()
    proc.wait(timeout=60)
    if scraper is not None:
        scraper.join(timeout=30)
    if seconds is None:
        raise SystemExit(f"{mode}: the workload did not report its time")
    return seconds, count[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", type=float, default=1.0, help="workload scale (1.0 ~ 3 s)")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between scrapes")
    ap.add_argument(
        "--with-trace", action="store_true", help="also the agent with trace=True (very slow)"
    )
    ap.add_argument("--modes", nargs="*", help="only these modes (the anchor always runs)")
    args = ap.parse_args()
    modes = ["none", "agent", "tracemalloc"] + (["agent-trace"] if args.with_trace else [])
    if importlib.util.find_spec("memray") is not None:
        modes.append("memray")
    else:
        print("memray: not installed (pip install memray) - skipped", file=sys.stderr)
    if args.modes:
        modes = ["none", *(m for m in args.modes if m != "none")]
    best: dict[str, float] = {}
    scrapes: dict[str, int] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(WORKLOAD)
        script = fh.name
    try:
        for rep in range(args.reps):
            for mode in modes:
                seconds, n = run_once(mode, args.work, args.interval, script)
                print(f"rep {rep + 1} {mode:12} {seconds:7.3f} s  ({n} scrapes)", file=sys.stderr)
                if seconds < best.get(mode, float("inf")):
                    best[mode], scrapes[mode] = seconds, n
    finally:
        os.unlink(script)
    anchor = best["none"]
    print(f"\n{'mode':12} {'best s':>8} {'ratio':>7} {'scrapes':>8}   (best of {args.reps})")
    for mode in modes:
        print(f"{mode:12} {best[mode]:8.3f} {best[mode] / anchor:7.3f} {scrapes[mode]:8d}")
    overhead = best["agent"] / anchor - 1
    verdict = "meets" if overhead <= 0.05 else "MISSES"
    print(f"\nalways-on agent overhead {overhead * 100:+.1f}% ({verdict} the 5% target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
