"""Benchmark: per-snapshot analysis time and analyser memory against the length of history.

Histories of N = 100, 1,000, 10,000 and 100,000 snapshots are synthesised
from a real recorded session (tests/data/sessions/<name>: its heap, goroutine
and goroutineleak profiles as the target served them): snapshot i is the
session's snapshot i mod M, one every 60 s (so the per-minute and per-hour
tiers fill), with every heap value and exact MemStats figure scaled by a
factor that grows with i (a leak, so the judge has something to find).

Each N runs in its own process. The analyser is filled with N snapshots
whose profiles were decoded once up front (fast, so 100,000 finish in
minutes); the next 200 arrive as bytes (``MemorySnapshot``, decoded by
``add`` as in a live watch) and each ``add`` is timed. The anchor runs in the
same process, taking turns with it snapshot by snapshot: an analyser holding
100 snapshots fed the same 200 profiles (at N = 100 the two are alike: the
ratio shows the method's own noise). The ratio (median add at N over
median add at the anchor) is the figure that must stay ~1.0: flat.
``analysis()`` is timed the same way (best of 3, taking turns).

Memory: the bytes of the history's arrays (exact), ``len(save())`` (the
saved state, compressed) and the process's RSS growth while filling
(rough: allocator slack included).

    python bench/bench_incremental.py [--sizes 100,1000,10000,100000] [--session NAME]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INTERVAL = 60.0
MEASURED = 200
ANCHOR = 100
KINDS = ("heap", "goroutine", "goroutineleak")
#: heap growth over the synthetic history: values x (1 + GROWTH * i / N)
GROWTH = 0.5


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * 4


class _Decoded:
    """A snapshot whose profiles were decoded (and scaled) before it is added."""

    __slots__ = ("profiles", "record", "views")

    def __init__(self, record: object, profiles: dict[str, Any]) -> None:
        from leakhunter.formats.pprof_view import FullView

        self.record, self.profiles = record, profiles
        self.views = {k: FullView(p) for k, p in profiles.items()}

    def has(self, kind: str) -> bool:
        return kind in self.profiles

    def name(self, kind: str) -> str:
        return f"synthetic/{kind}"

    def profile(self, kind: str = "heap", *, max_bytes: int | None = None) -> object:
        return self.profiles[kind]

    def profile_view(self, kind: str = "heap") -> object:
        return self.views[kind]

    def goroutine_text(self, *, max_bytes: int | None = None) -> None:
        return None


def _child(session: str, n: int) -> dict[str, float]:
    """Run one size in this process; return its figures."""
    import numpy as np

    from leakhunter.analyze.analyzer import Analyzer
    from leakhunter.collect.session import load_session
    from leakhunter.collect.snapshot import MemorySnapshot
    from leakhunter.formats.pprof import encode

    source = [s for s in load_session(session).snapshots if s.has("heap")]
    decoded = [{k: s.profile(k) for k in KINDS if s.has(k)} for s in source]

    def scaled(i: int, total: int) -> tuple[float, dict[str, object]]:
        f = 1.0 + GROWTH * i / total
        profs = dict(decoded[i % len(decoded)])
        heap = profs["heap"]
        vals = np.rint(heap.values * f).astype(np.int64)  # type: ignore[attr-defined]
        profs["heap"] = heap.replace(values=vals)  # type: ignore[attr-defined]
        return f, profs

    def record(i: int, f: float) -> object:
        rec = source[i % len(source)].record
        stats = {k: int(v * f) if k != "NumGC" else i + 1 for k, v in rec.memstats.items()}
        return rec.__class__(
            seq=i,
            time=1.7e9 + i * INTERVAL,
            elapsed=i * INTERVAL,
            memstats=MappingProxyType(stats),
            goroutines=rec.goroutines,
            files=MappingProxyType({k: f"{i:06d}.{k}.pb.gz" for k in KINDS if k in decoded[0]}),
        )

    def fill(analyzer: Analyzer, count: int, total: int) -> None:
        for i in range(count):
            f, profs = scaled(i, total)
            analyzer.add(_Decoded(record(i, f), profs))  # type: ignore[arg-type]

    small = Analyzer("anchor")
    fill(small, ANCHOR, ANCHOR + MEASURED)
    rss0 = _rss_kib()
    big = Analyzer("subject")
    t0 = time.perf_counter()
    fill(big, n, n + MEASURED)
    fill_s = time.perf_counter() - t0
    rss1 = _rss_kib()
    # the measured snapshots, as bytes (encoding is not timed)
    tail = []
    for j in range(MEASURED):
        i = n + j
        f, profs = scaled(i, n + MEASURED)
        blobs = {k: encode(p) for k, p in profs.items()}  # type: ignore[arg-type]
        a = ANCHOR + j
        tail.append(
            (
                MemorySnapshot(record(i, f), MappingProxyType(blobs)),  # type: ignore[arg-type]
                MemorySnapshot(record(a, f), MappingProxyType(blobs)),  # type: ignore[arg-type]
            )
        )
    times: dict[int, list[float]] = {id(big): [], id(small): []}
    for j, (sb, ss) in enumerate(tail):  # taking turns, snapshot by snapshot, each first in turn
        pairs = ((big, sb), (small, ss)) if j % 2 == 0 else ((small, ss), (big, sb))
        for who, snap in pairs:
            t = time.perf_counter()
            who.add(snap)
            times[id(who)].append(time.perf_counter() - t)
    t_big, t_small = times[id(big)], times[id(small)]
    j_big, j_small = [], []
    for _ in range(3):
        t = time.perf_counter()
        v = big.analysis().verdict
        j_big.append(time.perf_counter() - t)
        t = time.perf_counter()
        small.analysis()
        j_small.append(time.perf_counter() - t)
    assert big.current is not None
    hist = big.current.fold.history
    arrays = sum(x.nbytes for tier in hist.tiers for x in (tier.t, tier.w, tier.data, tier.count))
    return {
        "n": n,
        "add_ms": statistics.median(t_big) * 1e3,
        "anchor_add_ms": statistics.median(t_small) * 1e3,
        "analysis_ms": min(j_big) * 1e3,
        "anchor_analysis_ms": min(j_small) * 1e3,
        "fill_s": fill_s,
        "history_kib": arrays / 1024,
        "rows": len(hist.index),
        "save_kib": len(big.save()) / 1024,
        "rss_growth_kib": rss1 - rss0,
        "points": sum(t.n for t in hist.tiers),
        "verdict": v.verdict.value,  # type: ignore[dict-item]
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,10000,100000")
    ap.add_argument("--session", default="unbounded-map-cache")
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    session = str(ROOT / "tests" / "data" / "sessions" / args.session)
    if args.child:
        print(json.dumps(_child(session, args.child)))
        return 0
    print(f"history synthesised from {session}, one snapshot every {INTERVAL:.0f} s")
    print(
        f"add = median of {MEASURED} adds after N (decode included); anchor = an analyser "
        f"of {ANCHOR} snapshots fed the same {MEASURED}, taking turns in the same process"
    )
    head = (
        f"{'N':>7} {'add ms':>7} {'anchor':>7} {'ratio':>6} {'judge ms':>9} {'anchor':>7} "
        f"{'ratio':>6} {'points':>6} {'rows':>5} {'history':>9} {'save()':>8} {'RSS +':>8} "
        f"{'fill s':>7}  verdict"
    )
    print(head)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--session", args.session, "--child", str(n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        rows.append(r)
        print(
            f"{n:>7} {r['add_ms']:>7.2f} {r['anchor_add_ms']:>7.2f} "
            f"{r['add_ms'] / r['anchor_add_ms']:>5.2f}x {r['analysis_ms']:>9.1f} "
            f"{r['anchor_analysis_ms']:>7.1f} {r['analysis_ms'] / r['anchor_analysis_ms']:>5.2f}x "
            f"{r['points']:>6} {r['rows']:>5} {r['history_kib'] / 1024:>5.1f} MiB "
            f"{r['save_kib']:>4.0f} KiB {r['rss_growth_kib'] / 1024:>4.0f} MiB "
            f"{r['fill_s']:>7.1f}  {r['verdict']}",
            flush=True,
        )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
