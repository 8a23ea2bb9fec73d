"""Each leak pattern of tests/goprogs_rules, run on the real Go runtime, gets its rule.

Records a short session of every pattern with the real collector (12 snapshots
at 0.5 s), analyses it and checks the rule of the first leak finding. The
committed fixtures under tests/data/rules/ come from the same runs
(``python tests/rules_fixtures.py capture --goprogs``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leakhunter.analyze.verdict import FindingVerdict
from leakhunter.pipeline import analyze_dir
from rules_goprogs import PATTERNS, BuildError, build, record

pytestmark = pytest.mark.go


def test_programs_build() -> None:
    assert build("leaks").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_pattern_gets_its_rule(pattern: str, tmp_path: Path) -> None:
    try:
        build("kafka" if pattern.startswith("kafka") else "leaks")
    except BuildError as exc:
        pytest.skip(f"cannot build the {pattern} program offline: {str(exc)[:200]}")
    out = tmp_path / pattern
    record(pattern, out)
    v = analyze_dir(out)
    lead = next((f for f in v.findings if f.verdict is FindingVerdict.LEAK), None)
    assert lead is not None, f"{pattern}: no leak found ({v.summary})"
    assert lead.rule is not None and lead.rule.id == PATTERNS[pattern][1], (
        pattern,
        lead.rule and lead.rule.id,
        lead.rule and lead.rule.matched,
    )
