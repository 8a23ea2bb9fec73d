"""The analysis view of a profile says what the full decode says, and refuses what it refuses.

Checked on every profile of the recorded zoo sessions and the pprof test data
(real Go runtime output), on the bad-input corpus of ``test_pprof_badinput``,
and end to end: the fold over lazy views gives the verdict of the fold over
fully decoded profiles, on every recorded session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from leakhunter.collect.session import Snapshot, load_session
from leakhunter.errors import FormatError
from leakhunter.formats.pprof import decode
from leakhunter.formats.pprof_view import FullView, decode_view, frames_of
from leakhunter.harness.recorded import recorded_dir
from leakhunter.pipeline import fold, judge
from leakhunter.report.verdict_json import verdict_to_dict
from test_pprof_badinput import CASES

DATA = Path(__file__).parent / "data"
SESSIONS = sorted(p for p in recorded_dir().iterdir() if p.is_dir())


def _profiles() -> Iterator[Path]:
    yield from sorted((DATA / "pprof").glob("*.pb.gz"))
    for s in SESSIONS:
        yield from sorted(s.glob("00000[05].*.pb.gz"))  # a first and a later snapshot


@pytest.mark.parametrize("path", list(_profiles()), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_view_reads_what_the_decoder_reads(path: Path) -> None:
    data = path.read_bytes()
    lazy, full = decode_view(data, source=str(path)), FullView(decode(data))
    assert lazy.sample_types == full.sample_types
    assert (lazy.period, lazy.period_type) == (full.period, full.period_type)
    assert np.array_equal(lazy.stacks.offsets, full.stacks.offsets)
    assert np.array_equal(lazy.stacks.location_ids, full.stacks.location_ids)
    assert np.array_equal(lazy.sample_stack, full.sample_stack)
    for i in range(len(full.sample_types)):
        assert np.array_equal(lazy.column(i), full.column(i))
    assert np.array_equal(lazy.location_ids(), full.location_ids())
    assert np.array_equal(lazy.location_addresses(), full.location_addresses())
    assert frames_of(lazy) == frames_of(full)


_NOT_READ = {"label string index", "missing mapping"}  # labels and mappings: never read


@pytest.mark.parametrize("name", sorted(set(CASES) - _NOT_READ))
def test_the_view_refuses_what_the_decoder_refuses(name: str) -> None:
    data, problem = CASES[name]
    with pytest.raises(FormatError) as caught:
        frames_of(decode_view(data, source="p.pb"))
    with pytest.raises(FormatError) as full:
        decode(data, source="p.pb")
    assert problem in str(caught.value) and problem in str(full.value)


@pytest.mark.parametrize("name", sorted(_NOT_READ))
def test_what_analysis_never_reads_is_not_checked(name: str) -> None:
    view = decode_view(CASES[name][0])
    assert frames_of(view) and view.column(0).tolist() == [5]


@dataclass(frozen=True)
class _Decoded:
    """A session snapshot whose analysis view is the full decode (the old path)."""

    snap: Snapshot

    @property
    def record(self):  # type: ignore[no-untyped-def]
        return self.snap.record

    def has(self, kind: str) -> bool:
        return self.snap.has(kind)

    def name(self, kind: str) -> str:
        return self.snap.name(kind)

    def read_bytes(self, kind: str) -> bytes:
        return self.snap.read_bytes(kind)

    def profile(self, kind: str = "heap", *, max_bytes: int | None = None):  # type: ignore[no-untyped-def]
        return self.snap.profile(kind, max_bytes=max_bytes)

    def profile_view(self, kind: str = "heap") -> FullView:
        return FullView(self.snap.profile(kind))

    def goroutine_text(self, *, max_bytes: int | None = None) -> str | None:
        return self.snap.goroutine_text(max_bytes=max_bytes)


@pytest.mark.parametrize("session", SESSIONS, ids=lambda p: p.name)
def test_the_fold_over_views_gives_the_verdict_of_full_decodes(session: Path) -> None:
    snaps = load_session(session).snapshots
    lazy = judge(fold(str(session), snaps).analysis()).verdict
    full = judge(fold(str(session), [_Decoded(s) for s in snaps]).analysis()).verdict
    assert verdict_to_dict(lazy) == verdict_to_dict(full)
