"""Benchmark: the CPU a `watch` costs per snapshot, and how much of it is analysis.

Starts a small real target (a zoo scenario; by default a control whose
goroutines and heap stay level, so every run sees the same target: against a
leak, each run would meet a bigger one than the run before), then, taking
turns against it:
  collect - a process that only collects (``collect()``, the loop `watch` runs,
            writing the same session folder), no analyser: the anchor;
  watch   - `leakhunter watch URL --snapshots N --interval I --out DIR --quiet`
            (the CLI: live analysis with its re-judging for the live view,
            then the final verdict).
Each process's CPU time (user + sys, from wait4) is divided by the snapshots
it took. Inside the watch process the analyser's own CPU (``_Live.add``:
folding each snapshot plus the live view's re-analyses, thread CPU time) is
summed too, so the watch's CPU splits into collection and analysis; the
difference watch - collect is the same split seen from outside.

    python bench/bench_watch.py [--scenario idle-worker-pool] [--snapshots 600]
                                [--interval 0.05] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLLECT = r"""
import sys, json
from leakhunter.collect.watch import WatchOptions, collect
url, out, n, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
r = collect(url, WatchOptions(interval=interval, snapshots=n), out)
print(json.dumps({"snapshots": r.snapshots}))
"""

WATCH = r"""
import sys, json, time
from leakhunter.cli import _watch_run
from leakhunter.cli.main import main
url, out, n, interval, report = sys.argv[1:6]
spent = {"cpu": 0.0, "adds": 0, "analyses": 0, "final_cpu": 0.0}
add, analysis = _watch_run._Live.add, _watch_run.Analyzer.analysis
inside_add = [False]

def timed_add(self, snap):
    t0 = time.thread_time()
    inside_add[0] = True
    add(self, snap)
    inside_add[0] = False
    spent["cpu"] += time.thread_time() - t0
    spent["adds"] += 1

def counted_analysis(self):
    spent["analyses"] += 1
    t0 = time.thread_time()
    out = analysis(self)
    if not inside_add[0]:  # the final verdict, after collection
        spent["final_cpu"] += time.thread_time() - t0
    return out

_watch_run._Live.add = timed_add
_watch_run.Analyzer.analysis = counted_analysis
code = main(["watch", url, "--snapshots", n, "--interval", interval, "--out", out, "--quiet"])
with open(report, "w") as fh:
    json.dump({"code": code, **spent}, fh)
"""


def run_child(code: str, args: list[str]) -> tuple[float, float]:
    """Run a Python child; return (its CPU seconds, user + sys, from wait4; wall seconds)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1, 3):  # watch: 1 = leak, 3 = inconclusive
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"child failed ({proc.returncode}): {err[-2000:]}")
    if proc.stderr:
        proc.stderr.close()
    return usage.ru_utime + usage.ru_stime, wall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="idle-worker-pool")
    ap.add_argument("--snapshots", type=int, default=600)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    from leakhunter.harness.run import start

    n, interval = str(args.snapshots), f"{args.interval:g}"
    cpu: dict[str, list[float]] = {"collect": [], "watch": []}
    walls: dict[str, list[float]] = {"collect": [], "watch": []}
    inside: list[dict[str, float]] = []
    # the target drives load for longer than every run may take (a snapshot of a
    # small target takes ~0.1-0.4 s on a busy machine); leaving the block stops it
    budget = 2 * args.runs * (args.snapshots * max(args.interval, 0.5) + 60)
    with (
        start(args.scenario, duration=budget, linger=600) as svc,
        tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp,
    ):
        print(f"target: {args.scenario} at {svc.url}; {n} snapshots every {interval} s")
        for r in range(args.runs):
            order = ("collect", "watch") if r % 2 == 0 else ("watch", "collect")
            for what in order:
                out = str(Path(tmp) / f"{what}-{r}")
                if what == "collect":
                    c, w = run_child(COLLECT, [svc.url, out, n, interval])
                else:
                    report = str(Path(tmp) / f"report-{r}.json")
                    c, w = run_child(WATCH, [svc.url, out, n, interval, report])
                    inside.append(json.loads(Path(report).read_text()))
                cpu[what].append(c)
                walls[what].append(w)
                print(f"  run {r + 1} {what:<7}: CPU {c:6.2f} s, wall {w:6.1f} s", flush=True)
    snaps = args.snapshots
    c_ms = statistics.median(cpu["collect"]) / snaps * 1e3
    w_ms = statistics.median(cpu["watch"]) / snaps * 1e3
    a_ms = statistics.median(x["cpu"] + x["final_cpu"] for x in inside) / snaps * 1e3
    analyses = statistics.median(x["analyses"] for x in inside)
    print(f"collect only : {c_ms:6.1f} ms CPU per snapshot (the anchor)")
    print(f"watch        : {w_ms:6.1f} ms CPU per snapshot ({w_ms / c_ms:.2f}x collect only)")
    print(
        f"  of which the analyser (fold, {analyses:.0f} analyses: live view + verdict): "
        f"{a_ms:6.1f} ms per snapshot, measured inside; watch - collect = {w_ms - c_ms:6.1f} ms"
    )
    print(
        json.dumps(
            {
                "snapshots": snaps,
                "interval": args.interval,
                "collect_cpu_s": cpu["collect"],
                "watch_cpu_s": cpu["watch"],
                "collect_wall_s": walls["collect"],
                "watch_wall_s": walls["watch"],
                "inside": inside,
                "collect_ms_per_snapshot": c_ms,
                "watch_ms_per_snapshot": w_ms,
                "analysis_ms_per_snapshot": a_ms,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
