"""Each leak pattern of tests/pyprogs_rules, run as a real Python service, gets its rule.

Records a short session of every pattern with the real collector (16 snapshots
at 0.5 s, 1 s for the slowest grower) from a CPython child process serving
leakhunter.agent, analyses it, and checks the rule of the finding that blames the
pattern's culprit (an application function). The committed fixtures under
tests/data/rules/pyprog-*.json come from the same runs
(``python tests/rules_fixtures.py capture --pyprogs``).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from leakhunter.analyze.verdict import FindingVerdict
from leakhunter.pipeline import analyze_dir
from rules_pyprogs import PATTERNS, finding_of, record, running

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_pattern_gets_its_rule(pattern: str, tmp_path: Path) -> None:
    _, culprit, rule = PATTERNS[pattern]
    out = tmp_path / pattern
    result = record(pattern, out)
    assert result.snapshots == 16, result
    v = analyze_dir(out)
    assert any(f.verdict is FindingVerdict.LEAK for f in v.findings), f"{pattern}: {v.summary}"
    f = finding_of(v, culprit)
    found = [(x.culprit and x.culprit.function, x.rule and x.rule.id) for x in v.findings]
    assert f is not None, f"{pattern}: no finding blames {culprit}: {found}"
    assert f.rule is not None and f.rule.id == rule, (pattern, found, f.rule and f.rule.matched)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_running_leaves_no_process_behind() -> None:
    """The pattern and the upstream it spawned are gone once the ``with`` block ends."""
    with running("socket-per-call", duration=5) as url:
        assert url.startswith("http://127.0.0.1:")
        (child,) = _children(os.getpid())
        group = _group(os.getpgid(child))
        assert child in group and len(group) >= 2, "the pattern and its upstream, one group"
    deadline = time.monotonic() + 60
    while (alive := {p for p in group if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"left running: {alive}"


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(x) for x in text.split()]


def _group(pgid: int) -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(int(d.name)) == pgid:
                    out.add(int(d.name))
    return out


def _alive(pid: int) -> bool:
    """Return True while pid runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
