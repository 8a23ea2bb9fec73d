"""The agent judging its own process (self_watch), and guard figures in /debug/vars."""

from __future__ import annotations

import json
import threading
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import leakhunter.agent
from leakhunter.agent import AgentCore
from leakhunter.agent.selfwatch import SelfWatch
from leakhunter.collect.fetch import Fetcher
from leakhunter.collect.session import SnapshotRecord, clean_guards
from leakhunter.collect.sources import AgentTransport
from leakhunter.collect.targets import parse_vars
from leakhunter.guard import BufferPool, DropOldest, RingBuffer


class Order:
    """What the in-process leak keeps: one per request, never released."""

    def __init__(self) -> None:
        self.payload = bytearray(2048)


class _Service:
    """Leaks between snapshots (objects, parked threads), or does the same work and keeps none."""

    def __init__(self, leak: bool) -> None:
        self.leak = leak
        self.kept: list[Order] = []
        self.release = threading.Event()
        self.parked: list[threading.Thread] = []

    def serve(self) -> None:
        orders = [Order() for _ in range(3000)]
        if not self.leak:
            return
        self.kept.extend(orders)
        for _ in range(2):
            t = threading.Thread(target=self.wait_for_reply, daemon=True)
            t.start()
            self.parked.append(t)

    def wait_for_reply(self) -> None:
        self.release.wait(60)

    def close(self) -> None:
        self.release.set()
        for t in self.parked:
            t.join(10)


@pytest.mark.parametrize(("leak", "verdict"), [(True, "leak"), (False, "no-leak")])
def test_self_watch_judges_this_process_and_exports_serves_metrics(
    leak: bool, verdict: str
) -> None:
    core = AgentCore()
    registry = CollectorRegistry()
    service = _Service(leak)
    watch = SelfWatch(core, quiet_period=0, registry=registry, schedule=False)
    core.self_watch = watch
    try:
        for _ in range(12):
            watch.tick()
            service.serve()
        st = watch.status
        assert st.snapshots == 12 and st.up and st.verdict == verdict, st.findings
        text = generate_latest(registry).decode()
        labels = f'id="self",target="{watch.target}"'
        assert f"leakhunter_leak{{{labels}}} {1.0 if leak else 0.0}" in text
        assert f"leakhunter_snapshots_total{{{labels}}} 12.0" in text
        assert "leakhunter_heap_live_bytes{" in text
        vars_doc = json.loads(core.handle("/debug/vars", "").body)
        assert vars_doc["leakhunter_self_watch"]["verdict"] == verdict
        if leak:
            culprits = {f["culprit"] for f in vars_doc["leakhunter_self_watch"]["findings"]}
            assert "test_agent_selfwatch._Service.wait_for_reply" in culprits
            assert 'culprit="test_agent_selfwatch._Service.wait_for_reply"' in text
            assert watch.judged is not None and watch.judged.verdict.findings[0].rule is not None
    finally:
        service.close()
        core.close()
    assert core.self_watch is None
    assert "leakhunter_leak" not in generate_latest(registry).decode()  # unregistered


def test_a_quiet_period_holds_a_leak_back_as_pending() -> None:
    core = AgentCore()
    service = _Service(True)
    watch = SelfWatch(core, quiet_period=3600, metrics=False, schedule=False)
    try:
        for _ in range(12):
            watch.tick()
            service.serve()
        assert watch.status.verdict == "pending" and watch.status.quiet
        assert watch.status.findings and all(f["verdict"] != "leak" for f in watch.status.findings)
    finally:
        service.close()
        watch.stop()
        core.close()


def test_start_self_watch_without_a_port_runs_on_its_schedule() -> None:
    registry = CollectorRegistry()
    agent = leakhunter.agent.start(
        port=None, self_watch=True, self_watch_interval=0.05, quiet_period=0, registry=registry
    )
    try:
        assert agent.port == 0
        watch = agent.core.self_watch
        assert watch is not None
        deadline = time.monotonic() + 30
        while watch.status.snapshots < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watch.status.snapshots >= 3 and watch.errors == 0
        assert "leakhunter_target_up{" in generate_latest(registry).decode()
        names = [t.name for t in threading.enumerate()]
        assert "leakhunter-agent-selfwatch" in names
    finally:
        agent.stop()
    assert "leakhunter-agent-selfwatch" not in [t.name for t in threading.enumerate()]


def test_named_guards_reach_debug_vars_and_the_snapshot_record() -> None:
    ring: RingBuffer[int] = RingBuffer(8, DropOldest, name="sink-outbox")
    for i in range(20):
        ring.put(i)
    pool = BufferPool(4, 64, name="sink-frames")
    pool.release(pool.acquire())
    core = AgentCore()
    try:
        body = core.handle("/debug/vars", "").body
        limit, guards = parse_vars(body)
        assert limit is None
        assert guards["buffers"]["sink-outbox"]["dropped"] == 12
        assert guards["buffers"]["sink-outbox"]["policy"] == "drop-oldest"
        assert guards["pools"]["sink-frames"]["gets"] == 1
        # watch's snapshotter keeps them in the record, and the record round-trips
        from leakhunter.agent.selfwatch import _memory_writer
        from leakhunter.collect.watch import Snapshotter, WatchOptions

        stop = threading.Event()
        with Fetcher(transport=AgentTransport(core)) as fetcher:
            shot = Snapshotter(
                "python-agent://pid1", WatchOptions(), fetcher, _memory_writer(), stop
            )
            rec = shot.take(0, time.time(), 0.0, False)
        assert rec.guards["buffers"]["sink-outbox"]["items"] == 8
        again = SnapshotRecord.from_json(json.loads(json.dumps(rec.to_json())), "test")
        assert again.guards == rec.guards
    finally:
        core.close()
    assert ring.stats().dropped == 12  # still alive here: the registry holds it weakly


@pytest.mark.parametrize(
    "hostile",
    [
        None,
        [],
        {"buffers": "x"},
        {"buffers": {"a" * 500: {"items": 1}}},
        {"buffers": {"b": {"items": True, "policy": "x" * 100, "n": 1 << 70, "ok": 3}}},
        {"pools": {str(i): {"gets": i} for i in range(1000)}},
    ],
)
def test_guard_figures_from_a_target_are_cleaned(hostile: object) -> None:
    cleaned = clean_guards(hostile)
    for kind, rows in cleaned.items():
        assert kind in ("buffers", "pools") and len(rows) <= 64
        for name, row in rows.items():
            assert len(name) <= 120
            assert all(isinstance(v, int | str) and not isinstance(v, bool) for v in row.values())
    buffers = hostile.get("buffers") if isinstance(hostile, dict) else None
    if isinstance(buffers, dict) and "b" in buffers:
        assert cleaned["buffers"]["b"] == {"ok": 3}


def test_a_second_self_watch_in_one_registry_keeps_judging_without_metrics() -> None:
    registry = CollectorRegistry()
    core = AgentCore()
    first = SelfWatch(core, registry=registry, schedule=False)
    second = SelfWatch(core, registry=registry, schedule=False)
    try:
        assert first.collector is not None and not first.metrics_error
        assert second.collector is None and "Duplicated" in second.metrics_error
        second.tick()
        assert second.status.snapshots == 1
        assert second.summary()["metrics_error"] == second.metrics_error
    finally:
        first.stop()
        second.stop()
        core.close()
