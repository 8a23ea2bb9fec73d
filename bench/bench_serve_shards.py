"""Simulation: 3 serve shards over 3,000 simulated targets; one shard dies, N goes to 2.

Phase 1. Three `leakhunter serve --shard i/3` processes (own data directory and
port each) watch one file_sd list of N simulated targets (bench/serve_targets.py:
helper processes answering on N loopback ports with the profiles recorded from
real zoo services). Each shard's ``/api/targets`` must list exactly the targets
whose hash falls in its shard: every target watched by exactly one shard, none
by two, none by none. The shards run until every target holds ``--snapshots``
snapshots (or ``--warmup-max`` intervals pass).

Phase 2. One shard is killed (SIGKILL: a node lost, no goodbye); the two
survivors are stopped (SIGTERM) and restarted on their own data directories
as ``--shard 1/2`` and ``--shard 2/2``. Again every target must be watched by
exactly one shard. What it costs, read from the databases and the new
shards' API:

- moved: targets whose new owner is not the shard whose data directory holds
  their history. Those of the killed shard must move; serve's rendezvous
  hashing moves no other when the killed shard is the last one (``--kill 3``,
  what scaling a StatefulSet down does); when a middle one dies and the last
  is renumbered into its place, the renumbered shard's targets move too.
- lost: a moved target starts fresh at its new owner (no snapshots, no
  verdict, a new warm-up); its history stays in the old data directory
  (the killed shard's, or inactive in a survivor's database). Counted in
  targets, snapshots, verdicts (leaks to be found again) and bytes.
- kept: targets whose owner keeps its data directory resume with every
  snapshot (checked against the database).
- gap: from the kill until each moved target's first scrape by its new owner
  (measured for ``--after`` intervals).

    python bench/bench_serve_shards.py [--n 3000] [--interval 120] [--snapshots 2]
                                       [--kill 3] [--after 1] [--helpers 3] [--json PATH]
    python bench/bench_serve_shards.py --n 300 --interval 20     # a quick check

Defaults keep the run to about 10 minutes at N = 3,000 on two cores (the
interval is long so three serves share the machine: what is measured here is
ownership, not speed; see bench_serve_scale.py for that).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import serve_targets as sim

sys.path.insert(0, str(sim.ROOT / "tests"))
from leakhunter.serve.scheduler import in_shard  # noqa: E402
from leakhunter.serve.targets import TargetSpec  # noqa: E402
from serve_helpers import Serving, serving, write_targets  # noqa: E402

MIB = 1 << 20


class Shard:
    """One serve process: its shard, data directory and handle (None when stopped)."""

    def __init__(self, name: str, data: Path, log_dir: Path) -> None:
        self.name, self.data, self.log_dir = name, data, log_dir
        self.spec: tuple[int, int] | None = None
        self.cm: AbstractContextManager[Serving] | None = None
        self.srv: Serving | None = None
        self.starts = 0

    def start(self, shard: tuple[int, int], targets: Path, args: argparse.Namespace) -> float:
        """Start serve as shard i/N on this data directory; return seconds to listening."""
        self.spec, self.starts = shard, self.starts + 1
        cmd = [
            "--targets",
            str(targets),
            "--data",
            str(self.data),
            "--shard",
            f"{shard[0]}/{shard[1]}",
        ]
        cmd += ["--interval", f"{args.interval:g}s", "--quiet-period", "1s"]
        log = self.log_dir / f"{self.name}-{self.starts}.log"
        t = time.monotonic()
        self.cm = serving(cmd, log, timeout=args.startup_max)
        self.srv = self.cm.__enter__()
        return time.monotonic() - t

    def targets(self) -> dict[str, dict[str, Any]]:
        """Return this shard's /api/targets entries by id."""
        assert self.srv is not None
        return {t["id"]: t for t in self.srv.api()["targets"]}

    def stop(self, kill: bool = False) -> float:
        """SIGKILL (kill) or SIGTERM serve; return seconds until it exited."""
        assert self.cm is not None and self.srv is not None
        t = time.monotonic()
        if kill:
            os.killpg(self.srv.proc.pid, signal.SIGKILL)
            self.srv.proc.wait()
        self.cm.__exit__(None, None, None)
        self.cm = self.srv = None
        return time.monotonic() - t


def at_once(calls: Sequence[Callable[[], float]]) -> list[float]:
    """Run the calls (starts or stops of serve) side by side; return their results in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda f: f(), calls))


def history(data: Path) -> dict[str, int]:
    """Return the snapshots each target holds in a data directory's database."""
    db = sqlite3.connect(f"file:{data / 'serve.db'}?mode=ro", uri=True, timeout=30)
    try:
        return dict(db.execute("SELECT id, snapshots FROM targets"))
    finally:
        db.close()


def verdicts(data: Path) -> dict[str, str]:
    """Return each target's last verdict stored in a data directory's database."""
    db = sqlite3.connect(f"file:{data / 'serve.db'}?mode=ro", uri=True, timeout=30)
    try:
        return {tid: v or "pending" for tid, v in db.execute("SELECT id, verdict FROM targets")}
    finally:
        db.close()


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def owners(shards: list[Shard]) -> dict[str, list[str]]:
    """Return, per target id, the shards listing it (a check needs exactly one each)."""
    out: dict[str, list[str]] = {}
    for s in shards:
        for tid in s.targets():
            out.setdefault(tid, []).append(s.name)
    return out


def check_exactly_one(
    shards: list[Shard], ids: set[str], n: int, specs: list[TargetSpec]
) -> dict[str, Any]:
    """Check every target is watched by exactly one shard, the one its hash names."""
    got = owners(shards)
    twice = sorted(t for t, o in got.items() if len(o) > 1)
    missing = sorted(ids - got.keys())
    foreign = sorted(got.keys() - ids)
    wrong = [
        s.id
        for s in specs
        for sh in shards
        if sh.spec is not None and (sh.name in got.get(s.id, [])) != in_shard(s, sh.spec)
    ]
    counts = {s.name: sum(1 for o in got.values() if s.name in o) for s in shards}
    ok = not (twice or missing or foreign or wrong) and sum(counts.values()) == n
    return {"ok": ok, "per_shard": counts, "twice": len(twice), "missing": len(missing),
            "unknown": len(foreign), "not_its_hash": len(wrong)}  # fmt: skip


def wait_snapshots(
    shards: list[Shard], want: int, deadline: float, every: float
) -> dict[str, dict[str, Any]]:
    """Poll the shards until every target holds ``want`` snapshots or the deadline passes."""
    while True:
        seen: dict[str, dict[str, Any]] = {}
        for s in shards:
            for tid, t in s.targets().items():
                seen[tid] = t | {"shard": s.name}
        if all(t["snapshots"] >= want for t in seen.values()) or time.monotonic() > deadline:
            return seen
        time.sleep(every)


@contextlib.contextmanager
def fleet_of(n: int, helpers: int) -> Iterator[sim.Fleet]:
    with sim.simulated(n, helpers) as fleet:
        yield fleet


def run(args: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = {"n": args.n, "interval": args.interval, "kill": args.kill}
    every = max(1.0, min(10.0, args.interval / 10))
    with (
        tempfile.TemporaryDirectory(prefix="bench-shards-", dir=args.tmp) as tmp,
        fleet_of(args.n, args.helpers) as fleet,
    ):
        root = Path(tmp)
        targets = write_targets(root / "targets.json", fleet.groups())
        specs = [TargetSpec(f"http://{addr}") for addr, _ in fleet.targets]
        ids = {s.id for s in specs}
        shards = [Shard(f"shard-{i}", root / f"data-{i}", root) for i in (1, 2, 3)]
        try:
            r["start_s"] = at_once(
                [lambda s=s, i=i: s.start((i, 3), targets, args) for i, s in enumerate(shards, 1)]
            )
            r["phase1"] = check_exactly_one(shards, ids, args.n, specs)
            print(f"  3 shards listening; ownership: {r['phase1']}", flush=True)
            t = time.monotonic()
            seen = wait_snapshots(
                shards, args.snapshots, t + args.warmup_max * args.interval, every
            )
            r["warmup_s"] = time.monotonic() - t
            r["warm_share"] = sum(x["snapshots"] >= args.snapshots for x in seen.values()) / args.n
            print(f"  {r['warm_share']:.0%} of targets hold {args.snapshots} snapshot(s) after "
                  f"{r['warmup_s']:.0f} s", flush=True)  # fmt: skip
            before_owner = {tid: x["shard"] for tid, x in seen.items()}
            dead = shards[args.kill - 1]
            survivors = [s for s in shards if s is not dead]
            r["kill_s"] = dead.stop(kill=True)
            t_kill = time.monotonic()
            r["stop_s"] = at_once([s.stop for s in survivors])
            held = {s.name: history(s.data) for s in shards}
            was = {s.name: verdicts(s.data) for s in shards}
            for s in shards:
                for tid in held[s.name]:
                    before_owner.setdefault(tid, s.name)
            r["restart_s"] = at_once(
                [
                    lambda s=s, i=i: s.start((i, 2), targets, args)
                    for i, s in enumerate(survivors, 1)
                ]
            )
            r["phase2"] = check_exactly_one(survivors, ids, args.n, specs)
            print(f"  2 shards listening; ownership: {r['phase2']}", flush=True)
            now = {tid: t | {"shard": s.name} for s in survivors for tid, t in s.targets().items()}
            r |= account(args, before_owner, now, held, was, shards, dead)
            r["restarted_after_kill_s"] = time.monotonic() - t_kill
            r |= gap(args, survivors, now, before_owner, t_kill, every)
        finally:
            for s in shards:
                if s.srv is not None:
                    s.stop()
    return r


def account(
    args: argparse.Namespace,
    before: dict[str, str],
    now: dict[str, dict[str, Any]],
    held: dict[str, dict[str, int]],
    was: dict[str, dict[str, str]],
    shards: list[Shard],
    dead: Shard,
) -> dict[str, Any]:
    """Count what moved, what was lost, and what the kept targets resumed with."""
    moved = [tid for tid, t in now.items() if before.get(tid) != t["shard"]]
    from_dead = [tid for tid in moved if before.get(tid) == dead.name]
    # fresh: the new owner's database held nothing of it when it took it over
    fresh = [tid for tid in moved if tid not in held[now[tid]["shard"]]]
    kept = [tid for tid in now if tid not in set(moved)]
    # resumed: every stored snapshot came back (a scrape may already have added one)
    resumed = [tid for tid in kept if now[tid]["snapshots"] >= held[before[tid]].get(tid, 1 << 60)]
    lost_snaps = sum(held[before[tid]].get(tid, 0) for tid in moved)
    lost_verdicts: dict[str, int] = {}
    for tid in moved:
        v = was[before[tid]].get(tid, "pending")
        lost_verdicts[v] = lost_verdicts.get(v, 0) + 1
    by_name = {s.name: s for s in shards}
    lost_bytes = sum(folder_bytes(by_name[before[tid]].data / "targets" / tid) for tid in moved)
    return {
        "moved": len(moved),
        "moved_from_killed": len(from_dead),
        "moved_between_survivors": len(moved) - len(from_dead),
        "moved_started_fresh": len(fresh),
        "kept": len(kept),
        "kept_resumed_whole": len(resumed),
        "snapshots_before": sum(sum(h.values()) for h in held.values()),
        "snapshots_left_behind": lost_snaps,
        "verdicts_left_behind": dict(sorted(lost_verdicts.items())),
        "bytes_left_behind": lost_bytes,
        "killed_dir_targets": len(held[dead.name]),
        "killed_dir_bytes": folder_bytes(dead.data),
    }


def gap(
    args: argparse.Namespace,
    survivors: list[Shard],
    now: dict[str, dict[str, Any]],
    before: dict[str, str],
    t_kill: float,
    every: float,
) -> dict[str, Any]:
    """Measure, for ``--after`` intervals, when each moved target is first scraped again."""
    moved = {tid for tid, t in now.items() if before.get(tid) != t["shard"]}
    first: dict[str, float] = {}
    deadline = time.monotonic() + args.after * args.interval
    while moved - first.keys() and time.monotonic() < deadline:
        time.sleep(every)
        for s in survivors:
            for tid, t in s.targets().items():
                if tid in moved and tid not in first and t["snapshots"] > 0:
                    first[tid] = time.monotonic() - t_kill
    waits = sorted(first.values())
    return {
        "gap_covered": len(first),
        "gap_p50_s": waits[len(waits) // 2] if waits else None,
        "gap_max_s": waits[-1] if waits else None,
        "gap_measured_s": args.after * args.interval,
    }


def report(r: dict[str, Any]) -> None:
    n = r["n"]

    def pct(x: int) -> str:
        return f"{x:,} ({x / n:.0%})"

    ok1, ok2 = r["phase1"]["ok"], r["phase2"]["ok"]
    print(f"targets: {n:,}; interval {r['interval']:g} s; shard {r['kill']}/3 killed")
    print(
        f"phase 1, 3 shards: per shard {r['phase1']['per_shard']}; every target in exactly "
        f"one shard (its hash's): {'yes' if ok1 else 'NO ' + json.dumps(r['phase1'])}"
    )
    print(
        f"phase 2, 2 shards: per shard {r['phase2']['per_shard']}; every target in exactly "
        f"one shard (its hash's): {'yes' if ok2 else 'NO ' + json.dumps(r['phase2'])}"
    )
    print(
        f"start to listening (s): {', '.join(f'{x:.1f}' for x in r['start_s'])}; "
        f"restart after the kill (s): {', '.join(f'{x:.1f}' for x in r['restart_s'])}; "
        f"graceful stop (s): {', '.join(f'{x:.1f}' for x in r['stop_s'])}"
    )
    print(
        f"snapshots held before the kill: {r['snapshots_before']:,} "
        f"({r['warm_share']:.0%} of targets with >= the wanted count)"
    )
    print(
        f"moved to another shard: {pct(r['moved'])}: {r['moved_from_killed']:,} from the "
        f"killed shard (unavoidable), {r['moved_between_survivors']:,} between the survivors "
        f"(rendezvous hashing: none when the last shard goes)"
    )
    print(
        f"  started fresh at the new owner: {pct(r['moved_started_fresh'])}; history left "
        f"behind: {r['snapshots_left_behind']:,} snapshots, "
        f"{r['bytes_left_behind'] / MIB:.1f} MiB; verdicts left behind: "
        f"{', '.join(f'{v} {k}' for k, v in r['verdicts_left_behind'].items())}"
    )
    print(
        f"  the killed shard's data directory keeps {r['killed_dir_targets']:,} targets' "
        f"history ({r['killed_dir_bytes'] / MIB:.1f} MiB), read by nobody"
    )
    print(
        f"kept their shard: {pct(r['kept'])}; resumed with every stored snapshot: "
        f"{r['kept_resumed_whole']:,}"
    )
    if r["gap_p50_s"] is not None:
        print(
            f"first scrape of a moved target by its new owner, after the kill: p50 "
            f"{r['gap_p50_s']:.0f} s, max {r['gap_max_s']:.0f} s ({r['gap_covered']:,} of "
            f"{r['moved']:,} seen; the survivors listened again "
            f"{r['restarted_after_kill_s']:.0f} s after the kill, then were watched for "
            f"{r['gap_measured_s']:.0f} s)"
        )
    from leakhunter.analyze.trend import TrendOptions

    k = TrendOptions().min_points
    print(f"a moved target has no verdict again until its new owner holds {k} snapshots "
          f"(the trend's minimum) past the quiet period: >= {k} intervals, "
          f"{k * r['interval']:.0f} s here, {k} min at serve's default 60 s")  # fmt: skip
    print(f"minimum possible when 3 becomes 2: the killed shard's ~{n / 3:,.0f} move "
          f"(a hash modulo N, as Prometheus's hashmod, moves ~{2 * n / 3:,.0f})")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="simulated targets")
    ap.add_argument("--interval", type=float, default=120.0, help="scrape interval, s")
    ap.add_argument("--snapshots", type=int, default=2, help="snapshots per target before the kill")
    ap.add_argument("--warmup-max", type=float, default=3.0, help="intervals to wait for them")
    ap.add_argument("--after", type=float, default=1.0, help="intervals to watch after restart")
    ap.add_argument("--kill", type=int, choices=(1, 2, 3), default=3, help="the shard killed")
    ap.add_argument("--helpers", type=int, default=3, help="processes simulating the targets")
    ap.add_argument("--startup-max", type=float, default=900.0, help="s for serve to listen")
    ap.add_argument("--tmp", default=None, help="where the data directories go")
    ap.add_argument("--json", metavar="PATH", help="also write the figures here")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"3 serve shards over {args.n:,} simulated targets every {args.interval:g} s; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    t = time.monotonic()
    r = run(args)
    r["wall_s"] = time.monotonic() - t
    print()
    report(r)
    print(f"wall time {r['wall_s']:.0f} s")
    doc = json.dumps(r)
    if args.json:
        Path(args.json).write_text(doc + "\n")
    print(doc)
    return 0 if r["phase1"]["ok"] and r["phase2"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
