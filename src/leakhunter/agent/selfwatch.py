"""The agent watching its own process: watch's analysis in-process, on a schedule, as metrics.

For services nothing outside can scrape (a batch worker behind a NAT, a
serverless-ish container), ``leakhunter.agent.start(self_watch=True)`` runs
the same pipeline ``watch`` and ``serve`` run, on the agent's own answers:
a snapshot every ``interval`` through ``watch``'s snapshotter (requests go to
the agent's core in-process, no socket), folded into an incremental
``Analyzer``, judged with the rules (``pipeline.judge``), and published as
``serve``'s metrics (``leakhunter_leak``, ``leakhunter_finding_*``,
``leakhunter_heap_live_bytes``...) in the application's Prometheus registry,
with ``target`` naming this process. ``/debug/vars`` carries a summary too.

Nothing is written to disk: each snapshot's profiles stay in memory until the
analyser has folded them (it keeps its first and latest, and bounded series).
The analysis imports numpy and the rest of leakhunter into the application,
which the always-on agent alone does not; a verdict costs ~10-50 ms of CPU per
snapshot on a service of a few hundred thousand objects, at one snapshot a
minute well under 0.1%. During ``quiet_period`` after start a leak is only
reported as a suspect (a warming cache looks like a leak), as serve does.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from leakhunter.agent.routines import AGENT_THREAD_PREFIX

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from leakhunter.agent.core import AgentCore
    from leakhunter.analyze.options import AnalyzeOptions
    from leakhunter.collect.session import Snapshot, SnapshotRecord
    from leakhunter.pipeline import Judged
    from leakhunter.serve.worker import TargetStatus

__all__ = ["SelfWatch"]


def _memory_writer() -> Any:
    """Return a session writer that keeps nothing (the snapshotter wants one)."""
    from leakhunter.collect.session import Manifest, SessionWriter, Snapshot

    class MemoryWriter(SessionWriter):
        """Names files without writing them: self-watch folds snapshots from memory."""

        def __init__(self) -> None:
            self.directory = Path("memory")
            self.manifest = Manifest(target="", started="")

        def write_file(self, seq: int, kind: str, data: bytes) -> str:
            return f"{seq:06d}.{kind}"

        def discard(self, names: Mapping[str, str]) -> None:
            return None

        def commit(self, record: SnapshotRecord) -> Snapshot:
            return Snapshot(self.directory, record)

    return MemoryWriter()


class SelfWatch:
    """Snapshots and judges this process every ``interval`` seconds on a daemon thread.

    ``status`` is the latest figures and verdict as serve publishes them for
    a target; ``judged`` the latest judgement (verdict with rules, analysis).
    Metrics go to ``registry`` (prometheus-client's default one unless given),
    none with ``metrics=False``. With ``schedule=False`` no thread runs: the
    caller calls ``tick()`` (tests, or an application with a scheduler of its own).
    """

    def __init__(
        self,
        core: AgentCore,
        *,
        interval: float = 60.0,
        quiet_period: float = 300.0,
        options: AnalyzeOptions | None = None,
        registry: CollectorRegistry | None = None,
        metrics: bool = True,
        top_findings: int = 5,
        schedule: bool = True,
    ) -> None:
        from leakhunter.analyze.analyzer import Analyzer
        from leakhunter.collect.fetch import Fetcher, FetchOptions
        from leakhunter.collect.sources import AgentTransport
        from leakhunter.collect.watch import Snapshotter, WatchOptions
        from leakhunter.serve.worker import TargetStatus

        self.interval = interval
        self.quiet_period = quiet_period
        self.top_findings = top_findings
        self.target = f"python-agent://pid{os.getpid()}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.options = options
        self.analyzer = Analyzer(self.target, options)
        self.judged: Judged | None = None
        self.snapshots = 0
        self.errors = 0
        self.started = time.time()
        self.status = TargetStatus("self", self.target, MappingProxyType({}))
        watch = WatchOptions(interval=interval, fetch=FetchOptions(timeout=120.0, retries=0))
        self._fetcher = Fetcher(watch.fetch, transport=AgentTransport(core))
        self._shot = Snapshotter(self.target, watch, self._fetcher, _memory_writer(), self._stop)
        self._shot.state.pid = os.getpid()  # its own process: /proc/self figures
        self.collector: Any = None
        self._registry: Any = None
        self.metrics_error = ""
        if metrics:
            self._register(registry)
        self._thread = threading.Thread(
            target=self._run, name=f"{AGENT_THREAD_PREFIX}-selfwatch", daemon=True
        )
        if schedule:
            self._thread.start()

    def _register(self, registry: CollectorRegistry | None) -> None:
        from prometheus_client.core import Metric
        from prometheus_client.registry import REGISTRY

        from leakhunter.serve.metrics import ServeCollector

        class Described(ServeCollector):
            """Serve's collector, describing its names so any registry refuses twins."""

            def describe(self) -> Iterator[Metric]:
                return self.collect()

        target = registry if registry is not None else REGISTRY
        collector = Described(lambda: (self.status,), self.top_findings)
        try:
            target.register(collector)
        except ValueError as exc:  # the names are taken (a second self-watching agent)
            self.metrics_error = str(exc)  # the verdict still runs; /debug/vars says why
            return
        self._registry, self.collector = target, collector

    def _run(self) -> None:
        while True:
            due = time.monotonic() + self.interval
            try:
                self.tick()
            except Exception:  # the agent must never take its host down
                self.errors += 1
            if self._stop.wait(max(due - time.monotonic(), 0.0)):
                return

    def tick(self) -> None:
        """Take one snapshot now, fold it in and judge (the thread calls this every interval)."""
        from leakhunter.collect.snapshot import MemorySnapshot
        from leakhunter.collect.watch import Abandoned
        from leakhunter.errors import LeakhunterError
        from leakhunter.pipeline import judge

        started = time.time()
        try:
            rec = self._shot.take(self.snapshots, started, started - self.started, False)
        except Abandoned:
            return
        snap = MemorySnapshot(rec, MappingProxyType(dict(self._shot.blobs)), "self-watch")
        with self._lock:
            self.analyzer.add(snap)
            self.snapshots += 1
            try:
                self.judged = judge(self.analyzer.analysis(), self.options)
            except LeakhunterError:
                self.judged = None
            self.status = self._status(rec, time.time() - started)

    def _status(self, rec: SnapshotRecord, took: float) -> TargetStatus:
        from leakhunter.report.verdict_json import finding_to_dict

        up = bool(rec.memstats or rec.files)
        if not up:
            self.errors += 1
        verdict = self.judged.verdict if self.judged is not None else None
        quiet = time.time() - self.started < self.quiet_period
        findings = []
        for f in verdict.findings[: self.top_findings * 4] if verdict is not None else ():
            doc = finding_to_dict(f)
            doc.pop("series", None)
            if quiet and doc["verdict"] == "leak":
                doc["verdict"] = "suspect"  # a warm-up is not an alert
            findings.append(doc)
        # serve's reading of a verdict (TargetWorker._judge): pending until judged and
        # past the quiet period, suspect when only suspects are found
        enough = verdict is not None and verdict.snapshots >= self.analyzer.options.trend.min_points
        if not up:
            status, value = "down", self.status.verdict
        elif verdict is None or not enough or quiet:
            status, value = "pending", "pending"
        else:
            value = verdict.verdict.value
            status = {"leak": "leak", "inconclusive": "inconclusive"}.get(value, "ok")
            if status == "ok" and any(f["verdict"] == "suspect" for f in findings):
                status = "suspect"
        heap = rec.memstats.get("HeapAlloc") if rec.gc_forced else None
        ttl = verdict.projection.time_to_oom_seconds if verdict is not None else None
        return replace(
            self.status,
            status=status,
            verdict=value,
            up=up,
            snapshots=self.snapshots,
            errors=self.errors,
            last_scrape=rec.time,
            scrape_seconds=took,
            heap=float(heap) if heap is not None else self.status.heap,
            goroutines=float(rec.goroutines) if rec.goroutines is not None else None,
            fds=_opt(rec.process.get("open_fds")),
            max_fds=_opt(rec.process.get("max_fds")),
            time_to_oom=ttl if value == "leak" else None,
            quiet=quiet,
            findings=tuple(findings),
        )

    def summary(self) -> dict[str, object]:
        """Return the latest verdict in brief (what ``/debug/vars`` shows)."""
        st = self.status
        return {
            "target": st.url,
            "verdict": st.verdict,
            "snapshots": st.snapshots,
            "interval": self.interval,
            **({"metrics_error": self.metrics_error} if self.metrics_error else {}),
            "findings": [
                {
                    "verdict": f["verdict"],
                    "kind": f["kind"],
                    "culprit": (f.get("culprit") or {}).get("function"),
                    "rule": (f.get("rule") or {}).get("id"),
                }
                for f in st.findings[: self.top_findings]
                if f["verdict"] in ("leak", "suspect")
            ],
        }

    def stop(self) -> None:
        """Stop the schedule and unregister the metrics."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)
        self._fetcher.close()
        if self._registry is not None:
            self._registry.unregister(self.collector)
            self._registry = None


def _opt(value: int | None) -> float | None:
    return None if value is None else float(value)
