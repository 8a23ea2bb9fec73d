"""Class 6 (and the session half of 1 and 11) of issue 15: a session folder is untrusted input."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_helpers import SESSION, lh, one_line_error
from leakhunter.collect.session import load_session
from leakhunter.errors import FormatError
from leakhunter.safe_numbers import MAX_INT64


@pytest.fixture
def session(tmp_path: Path) -> Path:
    dst = tmp_path / "session"
    shutil.copytree(SESSION, dst)
    return dst


def _edit(path: Path, **changes: object) -> None:
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("name", ["../../../../../../etc/passwd", "/etc/passwd", "..", "a/../b"])
def test_a_record_naming_a_file_outside_the_session_is_refused(session: Path, name: str) -> None:
    _edit(session / "000001.json", files={"heap": name})
    loaded = load_session(session)
    snap = next(s for s in loaded.snapshots if s.seq == 1)
    assert not snap.has("heap")
    assert any("000001.json" in w for w in loaded.warnings)


def test_a_profile_symlinked_out_of_the_session_is_refused(session: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.pb.gz"
    outside.write_bytes((session / "000001.heap.pb.gz").read_bytes())
    (session / "000001.heap.pb.gz").unlink()
    (session / "000001.heap.pb.gz").symlink_to(outside)
    snap = next(s for s in load_session(session).snapshots if s.seq == 1)
    assert not snap.has("heap")


def test_an_unreadable_session_folder_is_one_line(
    session: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root a chmod 000 folder stays readable, so the refusal is simulated here;
    # test_an_unreadable_session_folder_as_a_user does it for real where it can.
    real = Path.iterdir

    def iterdir(self: Path):  # type: ignore[no-untyped-def]
        if self == session:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(FormatError, match="Permission denied"):
        load_session(session)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 folder anyway")
def test_an_unreadable_session_folder_as_a_user(session: Path) -> None:
    session.chmod(0o300)
    try:
        proc = lh("analyze", str(session), timeout=120)
    finally:
        session.chmod(0o700)
    assert "cannot read" in one_line_error(proc)


def test_an_unknown_schema_version_is_refused(session: Path) -> None:
    _edit(session / "manifest.json", schema="leakhunter.session/7")
    proc = lh("analyze", str(session), timeout=120)
    assert "schema" in one_line_error(proc)


@pytest.mark.parametrize(
    "change",
    [
        {"time": "NaN"},
        {"time": "Infinity"},
        {"elapsed": "-Infinity"},
        {"time": "1e999"},
        {"memstats": {"HeapAlloc": "9" * 30}},
        {"goroutines": "9" * 30},
    ],
)
def test_figures_beyond_range_in_a_session_skip_the_record(
    session: Path, change: dict[str, object]
) -> None:
    path = session / "000003.json"
    text = path.read_text()
    doc = json.loads(text)
    key, raw = next(iter(change.items()))
    if isinstance(raw, dict):
        doc[key].update({k: 0 for k in raw})
        text = json.dumps(doc).replace('"HeapAlloc": 0', f'"HeapAlloc": {raw["HeapAlloc"]}')
    else:
        doc[key] = 0
        text = json.dumps(doc).replace(f'"{key}": 0', f'"{key}": {raw}', 1)
    path.write_text(text)
    loaded = load_session(session)
    assert 3 not in {s.seq for s in loaded.snapshots}
    assert any("000003.json" in w for w in loaded.warnings)
    proc = lh("analyze", str(session), "-q", timeout=120)
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(min_value=-(1 << 70), max_value=1 << 70)),
)
_FIELDS = st.sampled_from(
    ["seq", "time", "elapsed", "epoch", "memstats", "goroutines", "files", "errors", "limits"]
)


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.dictionaries(_FIELDS, _VALUES, min_size=1, max_size=3))
def test_any_record_is_loaded_checked_or_skipped(session: Path, change: dict[str, object]) -> None:
    path = session / "000002.json"
    original = path.read_text()
    try:
        _edit(path, **change)
        loaded = load_session(session)  # never anything but a Session (or FormatError)
    finally:
        path.write_text(original)
    for snap in loaded.snapshots:
        rec = snap.record
        assert math.isfinite(rec.time) and math.isfinite(rec.elapsed)
        assert all(0 <= v <= MAX_INT64 for v in rec.memstats.values())
        assert all("/" not in name for name in rec.files.values())
        rec.stats  # noqa: B018 - must not raise
