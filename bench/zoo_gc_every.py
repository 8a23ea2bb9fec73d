"""Accuracy trade-off of ``gc_every``: the zoo scored forcing a GC every snapshot, and every K-th.

Records every manifest scenario in the accuracy test's regime (15 snapshots at
1 s; ``--snapshots``/``--interval`` change it) once with ``gc_every=1`` and once
with ``gc_every=K`` (``--gc-every``, default 4), under ``--sessions``/gc1/NAME and
gcK/NAME (reused unless ``--rerecord``), and scores leakhunter's verdict on each
the way bench/zoo_score.py does: a leak is right when called "leak" (and its
culprit when the first leak finding names one the manifest lists), a control
or churn called "leak" is a false alarm, churn must get its churn finding.

The gc_every=K sessions are judged three ways:
  as recorded  - what `leakhunter analyze` says of them;
  all points   - records rewritten as if every snapshot had forced a GC: the
                 live heap trend then uses every HeapAlloc, garbage included;
  forced only  - the heap figures (HeapAlloc, HeapObjects, HeapInuse) of the
                 snapshots that did not force a GC removed: the live heap trend
                 rests on every K-th point alone.

    python bench/zoo_gc_every.py [--gc-every 4] [--jobs 2] [--only NAME ...]
        [--sessions DIR] [--rerecord] [--snapshots 15] [--interval 1]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from zoo_score import Call, score

from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.session import Snapshot, SnapshotRecord, load_session
from leakhunter.collect.watch import WatchOptions
from leakhunter.harness.build import build_zoo
from leakhunter.harness.manifest import ZooScenario, load_manifest
from leakhunter.harness.record import record
from leakhunter.pipeline import fold, judge

#: MemStats figures that count garbage not yet collected when no GC was forced
GARBAGE_FIGURES = ("HeapAlloc", "HeapObjects", "HeapInuse")


def all_points(rec: SnapshotRecord) -> SnapshotRecord:
    """Return the record as if its snapshot had forced a GC."""
    return replace(rec, gc_forced=True)


def forced_only(rec: SnapshotRecord) -> SnapshotRecord:
    """Return the record without the heap figures a GC it did not force would have made exact."""
    if rec.gc_forced:
        return rec
    kept = {k: v for k, v in rec.memstats.items() if k not in GARBAGE_FIGURES}
    return replace(rec, memstats=MappingProxyType(kept))


def verdict_of(folder: Path, rewrite: Callable[[SnapshotRecord], SnapshotRecord] | None) -> Verdict:
    """Judge a session folder, its records rewritten first when rewrite is given."""
    session = load_session(folder)
    snaps = [
        s if rewrite is None else Snapshot(s.directory, rewrite(s.record))
        for s in session.snapshots
    ]
    return judge(fold(session.target, snaps).analysis()).verdict


def call_of(v: Verdict) -> tuple[Call, bool]:
    """Return the verdict as zoo_score scores it, and whether it has a churn finding."""
    leaks = [f for f in v.findings if f.verdict.value == "leak"]
    culprit = leaks[0].culprit.function if leaks and leaks[0].culprit else None
    return Call(v.verdict.value, culprit), any(f.kind.value == "churn" for f in v.findings)


def record_one(
    sc: ZooScenario, out: Path, gc_every: int, args: argparse.Namespace, binary: Path
) -> Path:
    """Record one scenario with gc_every into out (reused when already there)."""
    if out.exists() and not args.rerecord and any(out.glob("*.json")):
        return out
    if out.exists():
        shutil.rmtree(out)
    record(
        sc.name,
        out,
        snapshots=args.snapshots,
        interval=args.interval,
        binary=binary,
        options=WatchOptions(gc_every=gc_every),
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--gc-every", type=int, default=4)
    ap.add_argument("--sessions", default=str(Path.home() / ".cache/leakhunter/zoo-gc-every"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--rerecord", action="store_true")
    ap.add_argument("--snapshots", type=int, default=15)
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args()
    scenarios = [s for s in load_manifest() if not args.only or s.name in args.only]
    k = args.gc_every
    root = Path(args.sessions) / f"{args.snapshots}x{args.interval:g}s"
    binary = build_zoo()
    t0 = time.monotonic()
    jobs = [(sc, g) for sc in scenarios for g in (1, k)]
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        list(
            pool.map(
                lambda job: record_one(
                    job[0], root / f"gc{job[1]}" / job[0].name, job[1], args, binary
                ),
                jobs,
            )
        )
    print(f"sessions ready in {time.monotonic() - t0:.0f} s under {root}\n", file=sys.stderr)
    variants: dict[str, tuple[int, Callable[[SnapshotRecord], SnapshotRecord] | None]] = {
        "gc_every=1": (1, None),
        f"gc_every={k}": (k, None),
        f"gc_every={k} all points": (k, all_points),
        f"gc_every={k} forced only": (k, forced_only),
    }
    names = list(variants)
    totals = {n: [0, 0, 0, 0] for n in names}  # right, wrong, false alarms, culprit right
    n_leaks = sum(1 for s in scenarios if s.verdict == "leak")
    print(f"{'scenario':38} {'expect':8}" + "".join(f"{n:>28}" for n in names))
    for sc in scenarios:
        cells = []
        for n in names:
            g, rewrite = variants[n]
            call, churn = call_of(verdict_of(root / f"gc{g}" / sc.name, rewrite))
            right, culprit, alarm = score(sc, call, churn)
            t = totals[n]
            t[0] += right
            t[1] += not right
            t[2] += alarm
            t[3] += sc.verdict == "leak" and culprit
            mark = "ok" if right else ("FALSE ALARM" if alarm else f"WRONG ({call.verdict})")
            if sc.verdict == "leak" and right and not culprit:
                mark += " wrong-culprit"
            cells.append(f"{mark:>28}")
        print(f"{sc.name:38} {sc.verdict:8}" + "".join(cells))
    print()
    print(f"{'':47}" + "".join(f"{n:>28}" for n in names))
    for label, i, denom in (
        ("right", 0, len(scenarios)),
        ("wrong", 1, len(scenarios)),
        ("false alarms", 2, None),
        ("leaks with the right culprit", 3, n_leaks),
    ):
        cells = [f"{totals[n][i]}/{denom}" if denom else f"{totals[n][i]}" for n in names]
        print(f"{label:47}" + "".join(f"{c:>28}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
