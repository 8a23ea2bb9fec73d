"""The recorded sessions in tests/data/sessions stay readable, small and complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakhunter.collect.session import load_session

ROOT = Path(__file__).parent / "data" / "sessions"
SESSIONS = sorted(p.name for p in ROOT.iterdir() if p.is_dir()) if ROOT.is_dir() else []


@pytest.mark.parametrize("name", SESSIONS)
def test_recorded_session(name: str) -> None:
    session = load_session(ROOT / name)
    assert session.warnings == ()
    assert session.manifest is not None and session.manifest.options["zoo"] == {
        "scenario": name,
        "rate": None,
        "scale": None,
    }
    snaps = session.snapshots
    assert len(snaps) == 20 and [s.seq for s in snaps] == list(range(20))
    assert all(s.record.epoch == 0 and not s.record.errors for s in snaps)
    assert [s.seq for s in snaps if s.has("goroutine2")] == [0, 19]
    for snap in snaps:
        assert snap.record.stats is not None
        assert snap.profile("heap").num_samples > 0
        assert snap.profile("goroutine").total(0) == snap.record.goroutines
    size = sum(p.stat().st_size for p in (ROOT / name).iterdir())
    assert size < 2 << 20


def test_expected_sessions_present() -> None:
    assert {
        "unbounded-map-cache",
        "chan-receive-no-sender",
        "bounded-lru",
        "idle-worker-pool",
    } <= set(SESSIONS)
