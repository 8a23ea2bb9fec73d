"""Guard figures beside the verdict: rates over the judged run, JSON, the terminal overview."""

from __future__ import annotations

import threading
from pathlib import Path

from leakhunter.agent import AgentCore
from leakhunter.analyze.guard_figures import guard_figures
from leakhunter.collect.session import SnapshotRecord, frozen_guards
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.collect.sources import AgentSource, OnSnapshot, Source, SourceResult
from leakhunter.collect.watch import WatchOptions
from leakhunter.guard import BufferPool, DropOldest, RingBuffer
from leakhunter.pipeline import judge_dir, judge_source
from leakhunter.report.data import gather
from leakhunter.report.html import render_html
from leakhunter.report.terminal import render_verdict_text
from leakhunter.report.verdict_json import verdict_to_dict


def _rec(t: float, guards: dict[str, dict[str, dict[str, int | str]]]) -> SnapshotRecord:
    return SnapshotRecord(0, t, t, guards=frozen_guards(guards))


def test_rates_are_over_the_run_and_ratios_over_its_puts() -> None:
    first = _rec(
        100.0,
        {
            "buffers": {
                "out": {
                    "policy": "drop-oldest",
                    "capacity": 10,
                    "items": 10,
                    "puts": 1000,
                    "dropped": 900,
                    "full": 900,
                    "rejected": 0,
                }
            },
            "pools": {"frames": {"gets": 100, "hits": 50, "in_use": 2, "oversized": 1}},
        },
    )
    last = _rec(
        110.0,
        {
            "buffers": {
                "out": {
                    "policy": "drop-oldest",
                    "capacity": 10,
                    "items": 5,
                    "puts": 1100,
                    "dropped": 950,
                    "full": 950,
                    "rejected": 0,
                }
            },
            "pools": {"frames": {"gets": 300, "hits": 240, "in_use": 3, "oversized": 3}},
        },
    )
    buf, pool = guard_figures(first, last)
    assert (buf.kind, buf.name, buf.policy, buf.level) == ("buffer", "out", "drop-oldest", 0.5)
    assert buf.dropped_per_second == 5.0  # 50 over 10 s, not the 950 since the start
    assert buf.full_ratio == 0.5  # 50 of the run's 100 puts found it full
    assert buf.rejected_per_second == 0.0
    assert pool.hit_ratio == 0.95  # 190 of the run's 200 gets
    assert pool.in_use == 3 and pool.oversized_per_second == 0.2
    # one snapshot: levels and cumulative ratios, no rates
    [only, _] = guard_figures(None, last)
    assert only.level == 0.5 and only.dropped_per_second is None and only.full_ratio is None
    # a counter that went down (the service restarted its buffer): no figure, not a negative one
    restarted = _rec(
        120.0,
        {
            "buffers": {
                "out": {
                    "capacity": 10,
                    "items": 0,
                    "puts": 3,
                    "dropped": 0,
                    "full": 0,
                    "rejected": 0,
                }
            }
        },
    )
    [again] = guard_figures(last, restarted)
    assert again.dropped_per_second is None


class _Writer:
    """An application writing through a DropOldest buffer faster than it drains it."""

    def __init__(self) -> None:
        self.outbox: RingBuffer[bytes] = RingBuffer(100, DropOldest, name="test-outbox")
        self.pool = BufferPool(8, 1024, name="test-frames")

    def between(self) -> None:
        for _ in range(500):
            with self.pool.buffer() as buf:
                self.outbox.put(bytes(buf[:16]))
        self.outbox.drain(50)


class _Fed:
    def __init__(self, inner: Source, work: _Writer) -> None:
        self.inner, self.work = inner, work

    @property
    def target(self) -> str:
        return self.inner.target

    def run(self, on_snapshot: OnSnapshot, stop: threading.Event) -> SourceResult:
        def both(snap: SnapshotView) -> None:
            on_snapshot(snap)
            self.work.between()

        return self.inner.run(both, stop)


def test_watch_shows_the_guards_beside_the_verdict(tmp_path: Path) -> None:
    core = AgentCore()
    work = _Writer()
    try:
        source = AgentSource(core, WatchOptions(interval=0.1, snapshots=6), tmp_path / "s")
        judged = judge_source(_Fed(source, work), stop=threading.Event())
    finally:
        core.close()
    v = judged.verdict
    by_name = {g.name: g for g in v.guards}
    out = by_name["test-outbox"]
    assert out.policy == "drop-oldest" and out.level == 0.5  # drained 50 of 100 last
    assert out.dropped_per_second is not None and out.dropped_per_second > 0
    assert out.full_ratio is not None and 0.5 < out.full_ratio <= 1.0
    assert by_name["test-frames"].hit_ratio is not None and by_name["test-frames"].hit_ratio > 0.9
    doc = verdict_to_dict(v)
    assert {g["name"] for g in doc["guards"]} >= {"test-outbox", "test-frames"}
    html = render_html(gather(v, judged.edges))
    assert "<dt>buffer test-outbox</dt><dd>drop-oldest, 50% full (50/100)" in html
    text = render_verdict_text(v, color=False, width=120)
    assert "buffer test-outbox" in text and "drop-oldest, 50% full (50/100)" in text
    assert "pool test-frames" in text and "hit ratio" in text
    # the saved session says the same when read back (the figures live in the records)
    assert verdict_to_dict(judge_dir(tmp_path / "s").verdict)["guards"] == doc["guards"]
