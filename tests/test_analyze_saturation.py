"""A heap that grows ever more slowly toward a bound is a cache filling, not a leak."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from leakhunter.analyze.evidence import valid
from leakhunter.analyze.saturation import saturation
from leakhunter.collect.session import load_session
from leakhunter.harness.manifest import load_manifest
from leakhunter.pipeline import analyze_dir, fold

SESSIONS = Path(__file__).parent / "data" / "sessions"
EXPECTED = {s.name: s.verdict for s in load_manifest()}

#: the zoo's 2,000-entry cache over 2,500 keys, filled on misses: full ~9 s in
CACHE = "cache-filling-to-bound"
LEAKS = sorted(p.name for p in SESSIONS.iterdir() if p.is_dir() and EXPECTED[p.name] == "leak")


def _heap(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    path = SESSIONS / name
    red = fold(str(path), list(load_session(path).snapshots)[:n])._judged()[0].fold.reduced()
    return valid(red.t, red.exact["HeapAlloc"])


def test_a_cache_filling_toward_its_bound_saturates() -> None:
    t, y = _heap(CACHE, 9)  # every figure still rises, each by less
    assert np.all(np.diff(y) > 0)
    s = saturation(t, y)
    assert s is not None
    assert y[-1] < s.asymptote < 1.3 * y[-1]  # it levels off at ~11.3 MiB
    assert 2 < s.tau < 8 and 0 <= s.remaining < 0.5


def test_it_takes_eight_points_to_see_the_bend() -> None:
    assert saturation(*_heap(CACHE, 7)) is None


@pytest.mark.parametrize(
    "shape",
    ["line", "noisy line", "step at the start", "accelerating", "flat", "line after a warm-up"],
)
def test_shapes_that_are_not_a_bound(shape: str) -> None:
    t = np.arange(15, dtype=float)
    rng = np.random.default_rng(7)
    y = {
        "line": 100e6 + 300e3 * t,
        "noisy line": 100e6 + 300e3 * t + rng.normal(0, 150e3, 15),
        "step at the start": np.where(t > 0, 200e6, 100e6) + 50e3 * t,
        "accelerating": 100e6 + 20e3 * t**2,
        "flat": np.full(15, 100e6),
        "line after a warm-up": 100e6 + 3e6 * (1 - np.exp(-t / 1.5)) + 400e3 * t,
    }[shape]
    assert saturation(t, y) is None


@pytest.mark.parametrize("name", LEAKS)
def test_no_recorded_leak_saturates_at_any_length(name: str) -> None:
    total = len(load_session(SESSIONS / name).snapshots)
    for n in range(8, total + 1):
        assert saturation(*_heap(name, n)) is None, (name, n)


@pytest.mark.parametrize("n", [8, 9])
def test_the_filling_cache_is_no_leak_and_the_verdict_says_why(n: int, tmp_path: Path) -> None:
    """Eight or nine snapshots: all rising, the trend tests pass; the bend says cache."""
    dst = tmp_path / "s"
    shutil.copytree(SESSIONS / CACHE, dst)
    for record in sorted(dst.glob("0*.json"))[n:]:
        record.unlink()
    v = analyze_dir(dst)
    assert v.verdict.value == "no-leak", v.summary
    assert any("ever more slowly" in note for note in v.notes), v.notes
