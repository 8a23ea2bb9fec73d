"""Benchmark: what `leakhunter serve` costs at 100, 1,000 and 3,000 targets scraped every 60 s.

The targets are simulated (bench/serve_targets.py): a few helper processes
answer on N loopback ports with the profiles real zoo services recorded
(tests/data/sessions), leaks and controls alternating, each port stepping
through its session one snapshot per scrape. For each N the real CLI runs as
its own process:

    python -m leakhunter serve --targets FILE --data DIR --listen 127.0.0.1:0
        --interval 60s --quiet-period 1s

and is left to reach steady state: every target scraped at least twice (the
first pass is spread over one interval by design), or ``--warmup-max``
intervals, whichever comes first (a serve that cannot keep up never gets
there: the table then says so). Then, over a window of ``--window``
intervals, from outside the process:
  CPU      utime + stime of serve's process (/proc/PID/stat), in cores, and
           per scrape (scrapes counted from leakhunter_snapshots_total);
  memory   VmRSS and its peak VmHWM at the end of the window;
  pace     scrapes per second done against due (N / interval), serve's own
           leakhunter_serve_scrape_lag_seconds quantiles (its last 4,096
           scrapes: at small N they still hold the first pass), the age of each
           target's newest snapshot (/api/targets last_scrape; above one interval
           means serve is falling behind) and the spread of
           leakhunter_scrape_duration_seconds across targets (wall time of each
           target's last scrape, waiting included);
  disk     bytes written under --data per scrape (segments; evidence apart),
           extrapolated per target per day and kept at serve's default
           retention (raw 6 h at full resolution, then one snapshot per 10
           minutes until 7 days: 360 + 972 snapshots kept per target at 60 s),
           and the SQLite database (logical size; growth per scrape).
The helpers' CPU and the rest of the machine's load are shown too: they share
the cores with serve. The anchor is the smallest N of the same run: each
figure's growth is printed as a factor per 10x targets (10.0 = linear).

History makes judging dearer (the analyser judges 15 m/1 h/6 h/24 h windows once
history covers them), and a fresh serve has none: ``--age S`` starts serve on a
database whose every target already holds S snapshots (1440 = a day at 60 s;
the analyser state as serve saves it, its clock origin a day back, plus 2
days of points at most), the helpers carrying on from there. Each target's
first scrape then restores its state, as after a restart of serve. bench/bench_serve_profile.py
shows where a scrape's CPU goes.

    python bench/bench_serve_scale.py [--n 100,1000,3000] [--window 3] [--age 0]
                                      [--interval 60] [--helpers 2] [--quick]
                                      [--json PATH] [--show PATH]

``--quick`` (a smoke test, under a minute): N = 20 and 60 at a 5 s interval.
``--show PATH`` prints the table of a run saved with ``--json PATH`` again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import serve_targets as sim
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(sim.ROOT / "tests"))
from serve_helpers import serving, write_targets  # noqa: E402

MIB = 1 << 20


def quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def scrape_metrics(url: str) -> dict[str, Any]:
    """GET serve's /metrics; return per-target snapshots, errors, durations and the lag."""
    t = time.monotonic()
    text = httpx.get(url + "/metrics", timeout=300).text
    out: dict[str, Any] = {"wall": time.monotonic() - t, "bytes": len(text), "lag": {}}
    for name in ("snapshots", "errors", "took"):
        out[name] = {}
    keys = {
        "leakhunter_snapshots_total": "snapshots",
        "leakhunter_scrape_errors_total": "errors",
        "leakhunter_scrape_duration_seconds": "took",
    }
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in keys:
                out[keys[s.name]][s.labels["target"]] = s.value
            elif s.name == "leakhunter_serve_scrape_lag_seconds":
                out["lag"][s.labels["quantile"]] = s.value
    return out


def disk(data: Path) -> dict[str, float]:
    """Return bytes (apparent and allocated) under data: segments, evidence, database."""
    out = dict.fromkeys(("segments", "evidence", "db", "other", "allocated", "files"), 0.0)
    for root, _, files in os.walk(data):
        kind = "segments" if "/segments" in root else "evidence" if "/evidence" in root else ""
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            key = kind or ("db" if name.startswith("serve.db") else "other")
            out[key] += st.st_size
            out["allocated"] += st.st_blocks * 512
            out["files"] += 1
    return out


def db_logical(path: Path) -> tuple[float, int]:
    """Return the database's used bytes (pages minus free pages) and its point rows."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        pages, free, size = (
            db.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("page_count", "freelist_count", "page_size")
        )
        points = db.execute("SELECT count(*) FROM points").fetchone()[0]
    finally:
        db.close()
    return float((pages - free) * size), int(points)


def memory(pid: int) -> tuple[float, float]:
    """Return VmRSS and VmHWM of a process, in bytes."""
    got = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                got[key] = float(value.split()[0]) * 1024
    return got["VmRSS"], got["VmHWM"]


def machine_busy() -> float:
    """Return the machine's busy CPU seconds so far (all cores; /proc/stat)."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def run_one(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run serve against n simulated targets; return the window's figures."""
    interval = args.interval
    r: dict[str, Any] = {"n": n, "interval": interval, "age": args.age}
    with (
        tempfile.TemporaryDirectory(prefix="bench-serve-", dir=args.tmp) as tmp,
        sim.simulated(n, args.helpers, start=args.age, local=args.local) as fleet,
    ):
        data, targets = Path(tmp) / "data", Path(tmp) / "targets.json"
        write_targets(targets, fleet.groups())
        if args.age:
            t = time.monotonic()
            sim.seed_database(data, targets, fleet.groups(), args.age, interval)
            print(
                f"  seeded {n} targets with {args.age} snapshots each in "
                f"{time.monotonic() - t:.0f} s",
                flush=True,
            )
        cmd = ["--targets", str(targets), "--data", str(data), "--interval", f"{interval:g}s"]
        cmd += ["--quiet-period", "1s", *(["--workers", str(args.workers)] if args.workers else [])]
        t_launch = time.monotonic()
        with serving(cmd, Path(tmp) / "serve.log", timeout=args.startup_max) as srv:
            r["startup_s"] = time.monotonic() - t_launch
            pid = srv.proc.pid
            need = (1 if args.age else 0) + 2
            t_warm = time.monotonic()
            while True:
                m = scrape_metrics(srv.url)
                twice = sum(v >= need for v in m["snapshots"].values())
                late = time.monotonic() - t_warm > args.warmup_max * interval
                if twice >= n or late:
                    break
                time.sleep(min(10.0, interval / 4))
            r["warmup_s"], r["steady"], r["twice_share"] = (
                time.monotonic() - t_warm,
                twice >= n,
                twice / n,
            )
            print(
                f"  N={n}: started in {r['startup_s']:.1f} s, {twice}/{n} targets scraped "
                f"twice after {r['warmup_s']:.0f} s; measuring {args.window:g} intervals",
                flush=True,
            )
            m0, d0 = scrape_metrics(srv.url), disk(data)
            db0 = db_logical(data / "serve.db")
            c0, h0, b0, t0 = (
                sim.proc_cpu(pid),
                fleet.cpu_seconds(),
                machine_busy(),
                time.monotonic(),
            )
            time.sleep(args.window * interval)
            c1, h1, b1, t1 = (
                sim.proc_cpu(pid),
                fleet.cpu_seconds(),
                machine_busy(),
                time.monotonic(),
            )
            rss, hwm = memory(pid)
            m1, d1 = scrape_metrics(srv.url), disk(data)
            db1 = db_logical(data / "serve.db")
            doc = srv.api()
            now = time.time()
            t_stop = time.monotonic()
        r["shutdown_s"] = time.monotonic() - t_stop
        r["exit"] = srv.proc.returncode
    wall = t1 - t0
    scrapes = sum(m1["snapshots"].values()) - sum(m0["snapshots"].values())
    r["scrapes"] = scrapes
    r["errors"] = sum(m1["errors"].values()) - sum(m0["errors"].values())
    r["scrapes_per_s"], r["due_per_s"] = scrapes / wall, n / interval
    r["cpu_cores"] = (c1 - c0) / wall
    r["cpu_ms_per_scrape"] = (c1 - c0) / max(1, scrapes) * 1e3
    r["helpers_cores"] = (h1 - h0) / wall
    r["other_cores"] = (b1 - b0) / wall - r["cpu_cores"] - r["helpers_cores"]
    r["rss_mib"], r["hwm_mib"] = rss / MIB, hwm / MIB
    r["lag_p50_s"], r["lag_p99_s"] = (m1["lag"].get(q, math.nan) for q in ("0.5", "0.99"))
    took = list(m1["took"].values())
    r["took_p50_s"], r["took_p99_s"] = quantile(took, 0.5), quantile(took, 0.99)
    r["took_max_s"] = max(took, default=math.nan)
    ages = [
        now - datetime.fromisoformat(t["last_scrape"]).timestamp()
        for t in doc["targets"]
        if t["last_scrape"]
    ]
    r["stale_p99_s"] = quantile(ages, 0.99)
    r["never_scraped"] = n - len(ages)
    r["statuses"] = dict(sorted(_count(t["verdict"] for t in doc["targets"]).items()))
    r["metrics_ms"], r["metrics_kib"] = m1["wall"] * 1e3, m1["bytes"] / 1024
    r["seg_bytes_per_scrape"] = (d1["segments"] - d0["segments"]) / max(1, scrapes)
    r["evidence_mib"] = d1["evidence"] / MIB
    r["disk_mib"], r["allocated_mib"], r["files"] = (
        sum(d1[k] for k in ("segments", "evidence", "db", "other")) / MIB,
        d1["allocated"] / MIB,
        int(d1["files"]),
    )
    r["db_mib"], r["points"] = db1[0] / MIB, db1[1]
    r["db_bytes_per_scrape"] = (db1[0] - db0[0]) / max(1, scrapes)
    return r


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def retention_model(interval: float) -> tuple[float, float]:
    """Return (snapshots written per target per day, kept per target at steady state)."""
    from leakhunter.serve.options import DAY, ServeOptions

    o = ServeOptions()
    thinned = (o.retention - o.raw_retention) / max(o.thin_every, interval)
    kept = o.raw_retention / interval + thinned
    return DAY / interval, kept


def _rows(interval: float) -> list[tuple[str, Any, str, bool]]:
    """Return the table's rows: label, key (or function of a result), format, growth shown."""
    per_day, kept = retention_model(interval)

    def seg(factor: float) -> Any:
        return lambda r: r["seg_bytes_per_scrape"] * factor

    def warm(r: dict[str, Any]) -> Any:
        return r["warmup_s"] if r["steady"] else None

    return [
        ("startup (s, to listening)", "startup_s", "{:.1f}", True),
        ("warm-up (s, all scraped twice)", warm, "{:.0f}", False),
        ("  targets scraped twice", lambda r: f"{r['twice_share']:.0%}", "{}", False),
        ("scrapes/s done", "scrapes_per_s", "{:.2f}", True),
        ("scrapes/s due (N / interval)", "due_per_s", "{:.2f}", True),
        ("scrape errors in window", "errors", "{:.0f}", False),
        ("serve CPU (cores)", "cpu_cores", "{:.3f}", True),
        ("serve CPU per scrape (ms)", "cpu_ms_per_scrape", "{:.1f}", True),
        ("RSS (MiB)", "rss_mib", "{:.0f}", True),
        ("peak RSS, VmHWM (MiB)", "hwm_mib", "{:.0f}", True),
        ("RSS per target (KiB)", lambda r: r["rss_mib"] * 1024 / r["n"], "{:.0f}", True),
        ("scrape lag p50 (s, serve's)", "lag_p50_s", "{:.2f}", False),
        ("scrape lag p99 (s, serve's)", "lag_p99_s", "{:.2f}", False),
        ("newest snapshot age p99 (s)", "stale_p99_s", "{:.0f}", False),
        ("scrape duration p50 (s)", "took_p50_s", "{:.3f}", True),
        ("scrape duration p99 (s)", "took_p99_s", "{:.3f}", True),
        ("scrape duration max (s)", "took_max_s", "{:.3f}", True),
        ("segment bytes per scrape (KiB)", seg(1 / 1024), "{:.1f}", True),
        ("  written per target per day (MiB)", seg(per_day / MIB), "{:.1f}", True),
        (f"  kept per target, 7 d ({kept:.0f} snaps, MiB)", seg(kept / MIB), "{:.1f}", True),
        (
            "  kept for the fleet (GiB; budget 10)",
            lambda r: r["seg_bytes_per_scrape"] * kept * r["n"] / (1 << 30),
            "{:.2f}",
            True,
        ),
        ("evidence captured so far (MiB)", "evidence_mib", "{:.1f}", True),
        ("under --data at the end (MiB)", "disk_mib", "{:.1f}", True),
        ("  allocated on disk (MiB)", "allocated_mib", "{:.1f}", True),
        ("  files", "files", "{:.0f}", True),
        ("SQLite used (MiB)", "db_mib", "{:.1f}", True),
        ("  points rows", "points", "{:.0f}", True),
        ("  growth per scrape (bytes)", "db_bytes_per_scrape", "{:.0f}", True),
        ("/metrics answer (ms)", "metrics_ms", "{:.0f}", True),
        ("/metrics answer (KiB)", "metrics_kib", "{:.0f}", True),
        ("helpers CPU (cores)", "helpers_cores", "{:.3f}", True),
        ("rest of the machine (cores)", "other_cores", "{:.2f}", False),
        ("shutdown (s)", "shutdown_s", "{:.1f}", True),
    ]


def _value(r: dict[str, Any], key: Any) -> Any:
    return key(r) if callable(key) else r.get(key)


def report(results: list[dict[str, Any]], interval: float) -> None:
    """Print the figures per N, each with its growth per 10x targets."""
    ns = [r["n"] for r in results]
    pairs = list(zip(results, results[1:], strict=False))
    head = f"{'':<44}" + "".join(f"{f'N={n}':>11}" for n in ns)
    head += "".join(f"{str(a['n']) + '->' + str(b['n']):>13}" for a, b in pairs)
    print(head + ("   (growth per 10x targets)" if pairs else ""))
    for label, key, fmt, grows in _rows(interval):
        cells = []
        for r in results:
            v = _value(r, key)
            ok = v is not None and not (isinstance(v, float) and math.isnan(v))
            cells.append(f"{fmt.format(v) if ok else '-':>11}")
        growth = []
        for a, b in pairs:
            va, vb = _value(a, key), _value(b, key)
            numbers = isinstance(va, int | float) and isinstance(vb, int | float)
            if grows and numbers and va > 0 and vb > 0:
                growth.append(f"{(vb / va) ** (1 / math.log10(b['n'] / a['n'])):>12.2f}x")
            else:
                growth.append(f"{'':>13}")
        print(f"{label:<44}" + "".join(cells) + "".join(growth))
    for r in results:
        verdicts = ", ".join(f"{v} {k}" for k, v in r["statuses"].items())
        print(f"N={r['n']}: verdicts at the end: {verdicts}")
    for r in results:
        behind = r["scrapes_per_s"] < 0.95 * r["due_per_s"] or r["stale_p99_s"] > 1.5 * interval
        if behind or not r["steady"]:
            print(
                f"N={r['n']}: serve does not keep up: {r['scrapes_per_s']:.1f} scrapes/s for "
                f"{r['due_per_s']:.1f} due; the newest snapshot of a target is up to "
                f"{r['stale_p99_s']:.0f} s old (p99), {r['never_scraped']} never scraped"
            )
    at = {r["n"]: r for r in results}
    if 1000 in at:
        r = at[1000]
        cores, rss = r["cpu_cores"], r["rss_mib"]
        print(
            f"goal: 1,000 targets within half of one core: {cores:.2f} cores -> "
            f"{'met' if cores <= 0.5 else 'NOT met'}"
            + ("" if r["scrapes_per_s"] >= 0.95 * r["due_per_s"] else " (and not keeping up)")
        )
        print(
            f"goal: RSS under 1 GiB at 1,000 targets: {rss:.0f} MiB "
            f"(peak {r['hwm_mib']:.0f}) -> {'met' if r['hwm_mib'] < 1024 else 'NOT met'}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="100,1000,3000", help="target counts (comma-separated)")
    ap.add_argument("--interval", type=float, default=60.0, help="scrape interval, s")
    ap.add_argument("--window", type=float, default=3.0, help="measured intervals")
    ap.add_argument("--warmup-max", type=float, default=2.5, help="intervals to wait for all")
    ap.add_argument("--startup-max", type=float, default=1800.0, help="s for serve to listen")
    ap.add_argument("--age", type=int, default=0, help="snapshots of history per target")
    ap.add_argument("--helpers", type=int, default=2, help="processes simulating the targets")
    ap.add_argument("--workers", type=int, default=0, help="serve --workers (default: its own)")
    ap.add_argument("--local", action="store_true", help="list targets as 127.0.0.1 (procfs)")
    ap.add_argument("--tmp", default=None, help="where the data directories go")
    ap.add_argument("--quick", action="store_true", help="smoke test: N=20,60 every 5 s")
    ap.add_argument("--json", metavar="PATH", help="also write the figures here")
    ap.add_argument("--show", metavar="PATH", help="print the table of a saved --json again")
    args = ap.parse_args()
    # a SIGTERM unwinds like Ctrl-C, so serve and the target helpers are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.show:
        saved = json.loads(Path(args.show).read_text())
        report(saved, saved[0]["interval"])
        return 0
    if args.quick:
        args.n, args.interval, args.window, args.warmup_max = "20,60", 5.0, 2.0, 4.0
    ns = [int(x) for x in args.n.split(",")]
    host = sim.target_host(args.local)
    print(
        f"serve at N = {', '.join(map(str, ns))} targets every {args.interval:g} s "
        f"({args.helpers} helper processes; targets named {host}:PORT; "
        f"history per target: {args.age} snapshots); {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = []
    for n in ns:
        results.append(run_one(n, args))
        r = results[-1]
        print(
            f"  N={n}: {r['cpu_cores']:.3f} cores, {r['cpu_ms_per_scrape']:.1f} ms CPU per "
            f"scrape, RSS {r['rss_mib']:.0f} MiB, {r['scrapes_per_s']:.2f}/{r['due_per_s']:.2f} "
            f"scrapes/s, lag p99 {r['lag_p99_s']:.2f} s",
            flush=True,
        )
    print()
    report(results, args.interval)
    doc = json.dumps(results)
    if args.json:
        Path(args.json).write_text(doc + "\n")
    print(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
