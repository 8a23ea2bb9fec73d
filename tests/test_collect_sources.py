"""Sources: the in-process agent without a socket, and a live zoo target judged as it arrives."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from leakhunter.agent import AgentCore
from leakhunter.collect.fetch import Fetcher, FetchError
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.collect.sources import (
    AgentSource,
    AgentTransport,
    HttpSource,
    OnSnapshot,
    Source,
    SourceResult,
)
from leakhunter.collect.watch import WatchOptions
from leakhunter.formats.memstats import parse_memstats
from leakhunter.pipeline import judge_dir, judge_path, judge_source
from leakhunter.report.verdict_json import verdict_to_dict


class LeakedOrder:
    """What the in-process leak keeps: one per request, never released."""

    def __init__(self) -> None:
        self.payload = bytearray(2048)


def test_the_agent_transport_answers_without_a_socket() -> None:
    core = AgentCore()
    try:
        with Fetcher(transport=AgentTransport(core)) as fetcher:
            body = fetcher.get("python-agent://pid1/debug/pprof/heap?gc=1&debug=1").content
            assert parse_memstats(body).num_forced_gc == 1
            with pytest.raises(FetchError) as err:
                fetcher.get("python-agent://pid1/debug/pprof/nothing")
            assert err.value.status == 404
    finally:
        core.close()


class _Leaky:
    """Leaks between snapshots, as a service does between scrapes: objects and parked threads."""

    def __init__(self, leak: bool) -> None:
        self.leak = leak
        self.kept: list[LeakedOrder] = []
        self.release = threading.Event()
        self.parked: list[threading.Thread] = []
        self.seen = 0

    def between(self, snap: SnapshotView) -> None:
        self.seen += 1
        if not self.leak:
            return
        self.kept.extend(LeakedOrder() for _ in range(3000))
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


class _Fed:
    """A source wrapper that runs the application's work after each snapshot is handed on."""

    def __init__(self, inner: Source, work: _Leaky) -> None:
        self.inner, self.work = inner, work

    @property
    def target(self) -> str:
        return self.inner.target

    def run(self, on_snapshot: OnSnapshot, stop: threading.Event) -> SourceResult:
        def both(snap: SnapshotView) -> None:
            on_snapshot(snap)
            self.work.between(snap)

        return self.inner.run(both, stop)


@pytest.mark.parametrize(("leak", "verdict"), [(True, "leak"), (False, "no-leak")])
def test_agent_source_judges_this_process(leak: bool, verdict: str, tmp_path: Path) -> None:
    core = AgentCore()
    work = _Leaky(leak)
    try:
        source = AgentSource(core, WatchOptions(interval=0.2, snapshots=12), tmp_path / "s")
        judged = judge_source(_Fed(source, work), stop=threading.Event())
    finally:
        work.close()
        core.close()
    v = judged.verdict
    assert work.seen == 12 and v.snapshots == 12
    assert v.verdict.value == verdict, [(f.kind.value, f.culprit, f.summary) for f in v.findings]
    assert v.target.startswith("python-agent://pid")
    assert judged.session is not None and judged.session.directory == str(tmp_path / "s")
    if leak:
        lead = v.findings[0]
        assert lead.culprit is not None
        assert lead.culprit.function == "test_collect_sources._Leaky.wait_for_reply"
    # the saved session says the same when read back
    assert verdict_to_dict(judge_dir(tmp_path / "s").verdict)["verdict"] == verdict


@pytest.mark.go
@pytest.mark.slow
def test_http_source_on_a_zoo_leak_equals_its_saved_session(
    zoo_binary: Path, tmp_path: Path
) -> None:
    from leakhunter.harness.run import start

    out = tmp_path / "session"
    with start("chan-receive-no-sender", duration=60, binary=zoo_binary) as svc:
        source = HttpSource(svc.url, WatchOptions(interval=0.5, snapshots=10), out)
        live = judge_source(source)
    assert live.verdict.verdict.value == "leak", live.verdict.summary
    assert live.verdict.snapshots == 10
    assert live.session is not None and live.session.directory == str(out)
    assert verdict_to_dict(live.verdict) == verdict_to_dict(judge_dir(out).verdict)
    assert verdict_to_dict(judge_path(out).verdict) == verdict_to_dict(live.verdict)
