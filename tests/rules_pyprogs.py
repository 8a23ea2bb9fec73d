"""Run tests/pyprogs_rules (leak patterns of real Python services) and record sessions.

- `running(pattern)` starts ``python -m leaks --pattern NAME`` (this interpreter,
  tests/pyprogs_rules on PYTHONPATH) as a child in its own process group, with
  PR_SET_PDEATHSIG on Linux, and stops the whole group (the program and any
  upstream it spawned) on exit, as the zoo harness does: no orphans.
- `record(pattern, out)` runs one pattern and records a session of it with the
  real collector (16 snapshots at 0.5 s, or the pattern's ``INTERVALS``, after a
  warm-up scrape).
- `PATTERNS` maps each pattern to its rate, its culprit and the rule the
  finding blaming that culprit must get; `finding_of` picks that finding.

Needs no Go: the programs serve leakhunter.agent in-process.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from leakhunter.analyze.verdict import Finding, Verdict
from leakhunter.collect.fetch import Fetcher, FetchOptions
from leakhunter.collect.process import spawn
from leakhunter.collect.watch import WatchOptions, WatchResult, collect
from leakhunter.harness.run import RunningScenario

TESTS = Path(__file__).resolve().parent
SOURCES = TESTS / "pyprogs_rules"

#: pattern -> (operations per second, its culprit, rule id its finding must get). The
#: pattern's finding is the first (leaks rank first) that blames that application function:
#: a pattern may leak more than one thing (httpx clients leave their connections' buffers
#: behind too, blamed on no function of the pattern), and the ranking between those
#: findings is not stable from run to run.
PATTERNS: dict[str, tuple[int, str, str]] = {
    "task-event-never-set": (
        50,
        "leaks.ExportService.request_export",
        "PY-TASK-NEVER-AWAITED",
    ),
    "task-future-never-resolved": (
        50,
        "leaks.WebhookDispatcher.dispatch",
        "PY-TASK-NEVER-AWAITED",
    ),
    "socket-per-call": (50, "leaks.StockClient.reserve", "PY-SOCKET-OR-FILE-NOT-CLOSED"),
    "file-per-upload": (50, "leaks.UploadStore.append_chunk", "PY-SOCKET-OR-FILE-NOT-CLOSED"),
    "httpx-client-per-call": (20, "leaks.PricingClient.quote", "PY-AIOHTTP-SESSION-NOT-CLOSED"),
    # near-misses: a leak of the same shape that is not the rule's pattern
    "task-retry-sleeping": (
        50,
        "leaks.RetryScheduler.retry_later",  # the tasks (the jobs they hold: .submit)
        "PY-GENERIC-TASKS",
    ),
    "audit-list-growth": (100, "leaks.AuditTrail.log_request", "PY-GENERIC-HEAP-GROWTH"),
}


#: snapshot interval of a pattern whose heap grows slowly (default 0.5 s). httpx clients
#: cost CPU, so that pattern runs at 20 calls/s and its traced heap grows ~130 KiB/s: with
#: the agent answering a scrape in a few ms, 16 snapshots at 0.5 s spanned 8 s, ~1 MiB,
#: right at the heap floor (``min_heap_growth_bytes``), and one CI run saw no heap finding.
#: At 1 s the session spans 16 s or more: twice the floor.
INTERVALS: dict[str, float] = {"httpx-client-per-call": 1.0}


def finding_of(v: Verdict, culprit: str) -> Finding | None:
    """Return the first finding of a verdict that blames ``culprit``."""
    return next((f for f in v.findings if f.culprit and f.culprit.function == culprit), None)


#: seconds of load at most (a bound, not a schedule: the process is stopped when done)
_LOAD_CAP = 600.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCES), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONTRACEMALLOC", None)
    return env


@contextlib.contextmanager
def running(pattern: str, rate: float | None = None, duration: float = 30.0) -> Iterator[str]:
    """Run one pattern; yield the base URL of its agent; stop its process group on exit."""
    rate = PATTERNS[pattern][0] if rate is None else rate
    with tempfile.TemporaryDirectory(prefix=f"pyprog-{pattern}-") as workdir:
        cmd = [sys.executable, "-m", "leaks", "--pattern", pattern, "--rate", f"{rate:g}"]
        cmd += ["--duration", f"{duration:g}", "--linger", "60", "--workdir", workdir]
        proc = spawn(cmd, env=_env(), cwd=workdir)
        with RunningScenario(f"pyprog {pattern}", proc, timeout=60.0) as run:
            yield run.url


def record(
    pattern: str, out: Path, snapshots: int = 16, interval: float | None = None
) -> WatchResult:
    """Record a session of one pattern into out (a new folder), after its warm-up.

    Why it looks like this (the httpx-client-per-call flake, reproduced: 8 of 9
    sessions recorded three at a time on a loaded machine said "no leak"):
    - the load lasts until the recording is done (the process is stopped then):
      a scrape of the agent can take seconds there, and a load that ended
      mid-session looked like a plateau;
    - one scrape is taken and thrown away first: the agent's first census and
      full collection (every object the imports made) took up to 15 s under
      load, and the warm-up it hid bent the series;
    - 16 snapshots, so the late half the trend test checks has 8 points: with 6,
      one low last point (a Python heap's GC noise) failed it.
    """
    if interval is None:
        interval = INTERVALS.get(pattern, 0.5)
    options = WatchOptions(interval=interval, snapshots=snapshots, dump_growth=1_000_000_000)
    with running(pattern, duration=_LOAD_CAP) as url:
        with Fetcher(FetchOptions(timeout=60.0, retries=2)) as fetcher:
            fetcher.get(url + "/debug/pprof/heap?gc=1&debug=1")
        return collect(url, options, out, manifest_options={"pyprog": {"pattern": pattern}})
