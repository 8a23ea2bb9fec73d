"""Benchmark: analysing a 1,000-snapshot session vs only decoding its profiles.

Records (once, cached) a real 1,000-snapshot session of a zoo leak at a short
interval, then times, in separate processes taking turns (each going first in
turn), N times each:
  decode   - read and decode every profile file of every snapshot (the anchor);
  analyze  - the full analysis (fold + judge), as `leakhunter analyze` runs it.
Prints both times (best, median), the ratio (best against best, and the
median of the runs' pairs) and each process's peak RSS.

    python bench/bench_analyze.py [--snapshots 1000] [--interval 0.05] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

DECODE = r"""
import sys, time, resource
from leakhunter.collect.session import load_session
from leakhunter.formats.goroutine_text import load_dump
t0 = time.perf_counter()
s = load_session(sys.argv[1])
for snap in s.snapshots:
    for kind in ("heap", "goroutine", "goroutineleak", "allocs"):
        if snap.has(kind):
            snap.profile(kind)
    text = snap.goroutine_text()
    if text is not None:
        load_dump(text.encode(), "dump")
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

ANALYZE = r"""
import sys, time, resource
from leakhunter.pipeline import analyze_dir
t0 = time.perf_counter()
v = analyze_dir(sys.argv[1])
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      v.verdict.value, v.snapshots)
"""


def ensure_session(path: Path, scenario: str, snapshots: int, interval: float) -> Path:
    if path.exists() and len(list(path.glob("0*.json"))) >= snapshots:
        return path
    from leakhunter.harness.record import record

    if path.exists():
        import shutil

        shutil.rmtree(path)
    print(f"recording {snapshots} snapshots of {scenario} every {interval} s ...", file=sys.stderr)
    t0 = time.monotonic()
    record(scenario, path, snapshots=snapshots, interval=interval)
    print(f"recorded in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return path


def run(code: str, session: Path) -> tuple[float, int, list[str]]:
    """Run one timed child; return its seconds, peak RSS (KiB) and extra output."""
    out = subprocess.run(
        [sys.executable, "-c", code, str(session)], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1]), out[2:]


def take_turns(session: Path, runs: int) -> tuple[list[float], list[float], int, int, list[str]]:
    """Run decode and analyze alternately (each going first in turn) ``runs`` times each."""
    d_s, a_s, d_rss, a_rss, extra = [], [], 0, 0, []
    for r in range(runs):
        for what in ("decode", "analyze") if r % 2 == 0 else ("analyze", "decode"):
            secs, kb, more = run(DECODE if what == "decode" else ANALYZE, session)
            if what == "decode":
                d_s.append(secs)
                d_rss = max(d_rss, kb)
            else:
                a_s.append(secs)
                a_rss, extra = max(a_rss, kb), more
    return d_s, a_s, d_rss, a_rss, extra


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshots", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--scenario", default="chan-receive-no-sender")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--session", default=None)
    args = ap.parse_args()
    cache = Path.home() / ".cache" / "leakhunter" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    path = Path(args.session) if args.session else cache / f"{args.scenario}-{args.snapshots}"
    session = ensure_session(path, args.scenario, args.snapshots, args.interval)
    files = sum(1 for _ in session.glob("0*.*.gz"))
    size = sum(p.stat().st_size for p in session.iterdir())
    n = len(list(session.glob("0*.json")))
    print(f"session: {session} ({n} snapshots, {files} profile files, {size / 1e6:.1f} MB)")
    d_s, a_s, d_rss, a_rss, extra = take_turns(session, args.runs)
    d, a = min(d_s), min(a_s)
    pairs = statistics.median(x / y for x, y in zip(a_s, d_s, strict=True))
    print(
        f"decode only : {d:7.2f} s best, {statistics.median(d_s):6.2f} s median   "
        f"peak RSS {d_rss / 1024:7.1f} MiB"
    )
    print(
        f"analyze     : {a:7.2f} s best, {statistics.median(a_s):6.2f} s median   "
        f"peak RSS {a_rss / 1024:7.1f} MiB   verdict {' '.join(extra)}"
    )
    print(
        f"ratio analyze/decode: {a / d:.2f}x best against best, {pairs:.2f}x median of the "
        f"{args.runs} pairs (target <= 1.0x)"
    )
    print(
        json.dumps(
            {
                "decode_s": d_s,
                "analyze_s": a_s,
                "ratio_best": a / d,
                "ratio_median_pairs": pairs,
                "decode_rss_kb": d_rss,
                "analyze_rss_kb": a_rss,
                "snapshots": n,
            }
        )
    )
    _ = resource  # keep the import for readers who want RUSAGE_CHILDREN
    return 0


if __name__ == "__main__":
    sys.exit(main())
