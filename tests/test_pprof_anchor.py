"""leakhunter top/diff against `go tool pprof` on profiles made by the real Go runtime.

tests/goprogs_pprof/anchor writes heap, allocs and goroutine profiles at two
points of one run. For every sample index, at function and line granularity,
`leakhunter top` and `leakhunter diff` must print exactly what
`go tool pprof -top -unit=B -symbolize=none [-lines] [-diff_base]` prints:
total, flat and cum of every row, row order, and the dropped-node count.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from leakhunter.cli.main import main
from leakhunter.formats import pprof
from pprof_helpers import (
    HEAP_TYPES,
    build_goprog,
    first_difference,
    parse_lh_json,
    run_pprof_top,
)

pytestmark = pytest.mark.go

KINDS = {"heap": HEAP_TYPES, "allocs": HEAP_TYPES, "goroutine": ("goroutine",)}
CASES = [(kind, st) for kind, types in KINDS.items() for st in types]


@pytest.fixture(scope="session")
def anchor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = build_goprog("anchor")
    out = tmp_path_factory.mktemp("anchor")
    subprocess.run([str(binary), str(out)], check=True, timeout=60)
    return out


def lh_top(capsys: pytest.CaptureFixture[str], argv: list[str]):
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return parse_lh_json(capsys.readouterr().out)


def assert_same(lh, pp, what: str) -> None:
    assert lh.total == pp.total, f"{what}: total {lh.total} != pprof {pp.total}"
    assert lh.rows == pp.rows, f"{what}: {first_difference(lh.rows, pp.rows)}\n{pp.text}"
    assert lh.dropped == pp.dropped, f"{what}: dropped {lh.dropped} != pprof {pp.dropped}"
    shown = sum(r[1] for r in lh.rows)
    assert shown == pp.shown


def test_anchor_profiles_have_expected_shape(anchor_dir: Path) -> None:
    for kind, types in KINDS.items():
        for snap in "12":
            p = pprof.read(anchor_dir / f"{kind}{snap}.pb.gz")
            assert tuple(vt.type for vt in p.sample_types) == types
            assert p.num_samples > 0
    heap = pprof.read(anchor_dir / "heap2.pb.gz")
    # inlining: some location carries several lines
    assert any(len(loc.lines) > 1 for loc in heap.locations)
    # recursion: some stack repeats a function
    funcs = {f.id: f.name for f in heap.functions}
    locs = {loc.id: loc for loc in heap.locations}

    def names(stack):
        return [funcs[ln.function_id] for lid in stack for ln in locs[lid].lines]

    assert any(
        len(set(n)) < len(n) for n in (names(heap.stacks.get(i)) for i in range(len(heap.stacks)))
    )
    goroutines = pprof.read(anchor_dir / "goroutine2.pb.gz")
    assert any(any(lb.key == "pool" for lb in labels) for labels in goroutines.sample_labels), (
        "pprof.Do labels missing from the goroutine profile"
    )


@pytest.mark.parametrize("by", ["function", "line"])
@pytest.mark.parametrize("snap", ["1", "2"])
@pytest.mark.parametrize(("kind", "sample_type"), CASES)
def test_top_matches_pprof(
    anchor_dir: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    sample_type: str,
    snap: str,
    by: str,
) -> None:
    path = str(anchor_dir / f"{kind}{snap}.pb.gz")
    pp = run_pprof_top([f"-sample_index={sample_type}", path], lines=by == "line")
    lh = lh_top(capsys, ["top", path, "--sample-index", sample_type, "--by", by])
    assert_same(lh, pp, f"top {kind}{snap} {sample_type} by {by}")


@pytest.mark.parametrize("by", ["function", "line"])
@pytest.mark.parametrize(("kind", "sample_type"), CASES)
def test_diff_matches_pprof(
    anchor_dir: Path, capsys: pytest.CaptureFixture[str], kind: str, sample_type: str, by: str
) -> None:
    base, new = str(anchor_dir / f"{kind}1.pb.gz"), str(anchor_dir / f"{kind}2.pb.gz")
    pp = run_pprof_top(
        [f"-sample_index={sample_type}", "-diff_base", base, new], lines=by == "line"
    )
    lh = lh_top(capsys, ["diff", base, new, "--sample-index", sample_type, "--by", by])
    assert_same(lh, pp, f"diff {kind} {sample_type} by {by}")


def test_default_sample_index_matches_pprof(
    anchor_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind in KINDS:
        path = str(anchor_dir / f"{kind}2.pb.gz")
        assert_same(lh_top(capsys, ["top", path]), run_pprof_top([path]), f"top {kind}2")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (["--node-fraction", "0"], ["-nodefraction=0"]),
        (["--node-fraction", "0.05"], ["-nodefraction=0.05"]),
        (["--focus", "main\\.recurse"], ["-focus=main\\.recurse"]),
        (["--ignore", "main\\.(ping|pong)"], ["-ignore=main\\.(ping|pong)"]),
        (["--focus", "main\\.", "--ignore", "gzip"], ["-focus=main\\.", "-ignore=gzip"]),
    ],
)
def test_options_match_pprof(
    anchor_dir: Path, capsys: pytest.CaptureFixture[str], ours: list[str], theirs: list[str]
) -> None:
    path = str(anchor_dir / "heap2.pb.gz")
    pp = run_pprof_top([*theirs, path])
    assert_same(lh_top(capsys, ["top", path, *ours]), pp, f"top {ours}")
