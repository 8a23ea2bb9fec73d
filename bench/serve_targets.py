"""Simulated Go targets for the serve benchmarks: recorded zoo sessions on many loopback ports.

A fleet of thousands of real Go services does not fit on one small machine,
but what serve does with a target is only what the target answers. So a few
helper processes (asyncio, aiohttp) each listen on many 127.0.0.1 ports and
answer, per port, what a Go service recorded in tests/data/sessions/<scenario>/
answered: the heap, goroutine and goroutineleak protobufs as served, the
``goroutine?debug=2`` dump nearest in time, and ``heap?gc=1&debug=1`` text whose
``# runtime.MemStats`` block is the record's MemStats. ``/debug/vars`` and
``/metrics`` are 404, as on a Go service without expvar or Prometheus.

Each port steps to its session's next snapshot on every ``heap?gc=1&debug=1``
(the request that opens a snapshot), so serve folds a real series; past the
last snapshot it starts over. A Go process's counters never go back, so every
replay cycle adds one cycle's worth to NumGC, TotalAlloc and the other
cumulative counters: otherwise serve would see a restart at every wrap. Leaks
and controls alternate across ports (:data:`SCENARIOS`), so half the fleet
grows and serve judges, attributes and captures evidence for real.

Targets are named by this host's name when it resolves to loopback: serve
then treats them as remote (a fleet's pods are), fetching ``/metrics`` once
(404, never again) rather than reading /proc of the helper that owns
thousands of sockets, which no real target looks like.

``aged_states`` builds what a target's analyser holds after ``age`` scrapes of
the same replay (one per interval), so a benchmark can start serve on a
database of targets with a day of history (``seed_database``): judging costs
more with history.

    python bench/serve_targets.py --first 0 --count 500 [--start 0]
    (prints {"ports": [...]} once listening, then serves until SIGTERM)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = ROOT / "tests" / "data" / "sessions"
#: port i replays SCENARIOS[i % 6]: leak, control, leak, control, leak, churn
SCENARIOS = (
    "unbounded-map-cache",
    "idle-worker-pool",
    "grpc-stream-not-closed",
    "bounded-lru",
    "chan-receive-no-sender",
    "thrift-buffer-churn",
)
#: MemStats counters that only ever grow in one process
COUNTERS = ("NumGC", "NumForcedGC", "TotalAlloc", "Mallocs", "Frees", "PauseTotalNs", "Lookups")
PROFILES = ("heap", "goroutine", "goroutineleak")


class Recording:
    """One recorded session, replayed in cycles: MemStats, profiles and dumps per index."""

    def __init__(self, name: str) -> None:
        from leakhunter.collect.session import load_session

        session = load_session(SESSIONS / name)
        self.name = name
        self.records = [s.record for s in session.snapshots]
        self.blobs = [{k: s.read_bytes(k) for k in PROFILES if s.has(k)} for s in session.snapshots]
        dumps = {
            i: gzip.decompress(s.read_bytes("goroutine2"))
            for i, s in enumerate(session.snapshots)
            if s.has("goroutine2")
        }
        # a request for debug=2 between recorded dumps gets the nearest one in time
        self.dumps = [dumps[min(dumps, key=lambda d: abs(d - i))] for i in range(len(self.records))]
        n = len(self.records)
        first, last = self.records[0].memstats, self.records[-1].memstats
        self.step = {
            k: last[k] - first[k] + max(1, (last[k] - first[k]) // max(1, n - 1))
            for k in COUNTERS
            if k in first and k in last
        }

    def __len__(self) -> int:
        return len(self.records)

    def memstats(self, index: int) -> dict[str, int]:
        """Return the MemStats of replay index ``index`` (counters carried across cycles)."""
        cycle, i = divmod(index, len(self.records))
        stats = {k: v for k, v in self.records[i].memstats.items() if k != "GCCPUFractionPpb"}
        for k, step in self.step.items():
            stats[k] += cycle * step
        return stats

    def heap_text(self, index: int) -> bytes:
        """Return ``heap?gc=1&debug=1`` text: an empty site list, then the MemStats block."""
        from leakhunter.agent.profiles import memstats_block

        head = "heap profile: 0: 0 [0: 0] @ heap/524288\n\n"
        return (head + memstats_block(self.memstats(index))).encode()

    def snapshot(self, index: int, seq: int, t: float, elapsed: float) -> object:
        """Return replay index ``index`` as serve would have taken it (a MemorySnapshot)."""
        from leakhunter.collect.snapshot import MemorySnapshot

        i = index % len(self.records)
        rec = replace(
            self.records[i],
            seq=seq,
            time=t,
            elapsed=elapsed,
            memstats=MappingProxyType(self.memstats(index)),
            files=MappingProxyType({k: f"{seq:06d}.{k}.pb.gz" for k in self.blobs[i]}),
        )
        return MemorySnapshot(rec, MappingProxyType(self.blobs[i]), "replay")


@cache
def recording(name: str) -> Recording:
    """Return a scenario's recording (loaded once per process)."""
    return Recording(name)


def scenario_of(i: int) -> str:
    """Return the scenario target number ``i`` replays."""
    return SCENARIOS[i % len(SCENARIOS)]


# -- the helper process ---------------------------------------------------------


def _serve(first: int, count: int, start: int) -> None:
    """Answer as targets first..first+count-1, one port each, until SIGTERM.

    The port a request came in on says which target it is for, so one server
    (one event loop, one process) answers for a thousand ports cheaply.
    """
    from aiohttp import web

    served: dict[int, list[int]] = {}  # port -> [target number, snapshots opened]

    async def handle(request: web.Request) -> web.Response:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        state = served.get(sock[1]) if sock else None
        if state is None:
            return web.Response(status=404)
        rec = recording(scenario_of(state[0]))
        q = request.query
        path = request.path
        if path == "/debug/pprof/heap" and q.get("debug") == "1":
            if q.get("gc") == "1":
                state[1] += 1
            return web.Response(body=rec.heap_text(start + max(0, state[1] - 1)))
        i = (start + max(0, state[1] - 1)) % len(rec)
        if path == "/debug/pprof/goroutine" and q.get("debug") == "2":
            return web.Response(body=rec.dumps[i], content_type="text/plain")
        kind = path.removeprefix("/debug/pprof/")
        if kind in PROFILES and q.get("debug", "0") == "0" and kind in rec.blobs[i]:
            return web.Response(body=rec.blobs[i][kind], content_type="application/octet-stream")
        return web.Response(status=404, text="404 page not found\n")

    async def main() -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        for i in range(first, first + count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            served[sock.getsockname()[1]] = [i, 0]
            await web.SockSite(runner, sock, backlog=64).start()
        for name in {scenario_of(i) for i in range(first, first + count)}:
            recording(name)
        print(json.dumps({"ports": list(served)}), flush=True)
        done = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
        await done.wait()
        await runner.cleanup()

    asyncio.run(main())


# -- the driver's side -------------------------------------------------------------


def target_host(local: bool = False) -> str:
    """Return the name targets are listed by: this host's name when it is loopback."""
    if not local:
        name = socket.gethostname()
        with contextlib.suppress(OSError):
            found = socket.getaddrinfo(name, 80, socket.AF_INET)
            if found and all(a[4][0].startswith("127.") for a in found):
                return name
    return "127.0.0.1"


@dataclass
class Fleet:
    """The running helpers and the targets they answer as (host:port, scenario)."""

    procs: list[subprocess.Popen[bytes]]
    targets: list[tuple[str, str]]

    def groups(self) -> list[dict[str, object]]:
        """Return the file_sd groups: one per scenario, labelled with it."""
        by: dict[str, list[str]] = {}
        for addr, name in self.targets:
            by.setdefault(name, []).append(addr)
        return [
            {"targets": addrs, "labels": {"scenario": name, "team": "bench"}}
            for name, addrs in by.items()
        ]

    def cpu_seconds(self) -> float:
        """Return the helpers' CPU time so far (user + sys)."""
        return sum(proc_cpu(p.pid) for p in self.procs)


@contextlib.contextmanager
def simulated(n: int, helpers: int, start: int = 0, local: bool = False) -> Iterator[Fleet]:
    """Run ``helpers`` processes answering as ``n`` targets; stop them on exit."""
    host = target_host(local)
    procs: list[subprocess.Popen[bytes]] = []
    per = -(-n // helpers)
    try:
        for first in range(0, n, per):
            count = min(per, n - first)
            cmd = [sys.executable, __file__, "--first", str(first), "--count", str(count)]
            cmd += ["--start", str(start)]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE))
        targets: list[tuple[str, str]] = []
        for first, p in zip(range(0, n, per), procs, strict=True):
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line:
                raise SystemExit(f"a target helper failed to start (exit {p.wait()})")
            ports = json.loads(line)["ports"]
            targets += [(f"{host}:{port}", scenario_of(first + j)) for j, port in enumerate(ports)]
        yield Fleet(procs, targets)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout is not None:
                p.stdout.close()


def proc_cpu(pid: int) -> float:
    """Return a process's CPU seconds (utime + stime, all threads) from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def aged(name: str, age: int, interval: float, now: float, options: Any) -> Any:
    """Return an analyser fed ``age`` scrapes of a scenario, one per interval, the last at now.

    Each snapshot's ``elapsed`` is what serve records: seconds since the
    target's first scrape (its origin, kept in the database).
    """
    from leakhunter.analyze.analyzer import Analyzer

    rec = recording(name)
    analyzer = Analyzer(name, options)
    for i in range(age):
        analyzer.add(rec.snapshot(i, i, now - (age - 1 - i) * interval, i * interval))
    return analyzer


def aged_states(age: int, interval: float, now: float, options: Any) -> Mapping[str, bytes]:
    """Return, per scenario, the analyser state serve saves after ``age`` scrapes.

    ``options`` are serve's (``ServeOptions``): its analysis options.
    """
    return MappingProxyType(
        {n: aged(n, age, interval, now, options.analyze).save() for n in SCENARIOS}
    )


def seed_database(
    data: Path, targets: Path, groups: list[dict[str, Any]], age: int, gap: float
) -> None:
    """Give every target ``age`` snapshots of history, as a serve running that long saved it."""
    from leakhunter.analyze.analyzer import Analyzer
    from leakhunter.collect.watch import target_base
    from leakhunter.serve.options import ServeOptions
    from leakhunter.serve.store import Point, Store
    from leakhunter.serve.target_groups import parse_groups

    options = ServeOptions()
    now = time.time()
    states = aged_states(age, gap, now, options)
    store = Store(data / "serve.db")
    specs = parse_groups(groups, source=f"file_sd:{targets}").targets
    for spec in specs:
        rec = recording(spec.labels["scenario"])
        analyzer = Analyzer.restore(states[spec.labels["scenario"]], options.analyze)
        analyzer.target = target_base(spec.url)
        store.upsert_target(spec.id, spec.url, spec.labels, spec.source)
        store.set_origin(spec.id, now - (age - 1) * gap)
        store.record_scrape(
            spec.id,
            _point(rec, age - 1, now, Point),
            status="ok",
            verdict="no-leak",
            memstats=rec.memstats(age - 1),
            run_started=now - age * gap,
            findings={},
        )
        store.save_state(spec.id, analyzer.save(), "seeded:-1")
    store.close()
    # the points table as 2 days (points_retention) of scrapes leave it, at most
    keep = min(age, int(options.points_retention / gap))
    rows = (
        (spec.id, p.time, p.epoch, p.heap, p.goroutines, None, None, 1)
        for spec in specs
        for i in range(age - keep, age - 1)
        for p in (_point(recording(spec.labels["scenario"]), i, now - (age - 1 - i) * gap, Point),)
    )
    db = sqlite3.connect(data / "serve.db")
    with db:
        db.executemany("INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()


def _point(rec: Recording, i: int, t: float, point: Any) -> Any:
    goroutines = rec.records[i % len(rec)].goroutines
    heap = float(rec.memstats(i)["HeapAlloc"])
    return point(t, 0, heap, None if goroutines is None else float(goroutines), None, None, True)


def main() -> int:
    ap = argparse.ArgumentParser(description="answer as recorded Go targets on many ports")
    ap.add_argument("--first", type=int, default=0, help="number of the first target")
    ap.add_argument("--count", type=int, default=10, help="targets (ports) to answer as")
    ap.add_argument("--start", type=int, default=0, help="replay index of the first snapshot")
    args = ap.parse_args()
    _serve(args.first, args.count, args.start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
