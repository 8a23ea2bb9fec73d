"""Every zoo scenario names its pattern: the manifest's rule is what the analysis picks.

This file checks the sessions committed under tests/data/sessions/ (no Go
needed); every scenario of the zoo, recorded fresh, is checked the same way by
``test_zoo_rule`` in tests/test_zoo_accuracy.py, which records them anyway.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leakhunter.analyze.verdict import Finding, FindingVerdict, Verdict
from leakhunter.harness.manifest import ZooScenario, load_manifest
from leakhunter.pipeline import analyze_dir
from leakhunter.rules import builtin_rules

SCENARIOS = {sc.name: sc for sc in load_manifest()}
RECORDED = Path(__file__).parent / "data" / "sessions"


def _lead(v: Verdict, sc: ZooScenario) -> Finding | None:
    """Return the scenario's first leak finding (its first churn finding for churn scenarios)."""
    want = FindingVerdict.CHURN if sc.verdict == "churn" else FindingVerdict.LEAK
    return next((f for f in v.findings if f.verdict is want), None)


def check_rule(v: Verdict, sc: ZooScenario) -> None:
    """Assert that the scenario's lead finding names the manifest's rule, with its reasons."""
    lead = _lead(v, sc)
    assert lead is not None, f"{sc.name}: no {sc.verdict} finding ({v.summary})"
    assert lead.rule is not None, f"{sc.name}: the lead finding got no rule"
    assert lead.rule.id == sc.rule, (sc.name, lead.rule.id, lead.rule.matched)
    assert lead.rule.matched and lead.rule.fix and lead.rule.explanation


def test_every_leak_scenario_names_a_known_rule() -> None:
    known = {r.id for r in builtin_rules()}
    for sc in SCENARIOS.values():
        if sc.is_control:
            assert sc.rule is None, f"{sc.name}: a control expects no finding, so no rule"
        else:
            assert sc.rule in known, f"{sc.name}: rule {sc.rule!r} is not a builtin rule"
    # one pattern per family: scenarios share a rule only when they are the same
    # pattern in another regime (a slow leak in a large heap is still an unbounded cache)
    families: dict[str, set[str]] = {}
    for sc in SCENARIOS.values():
        if sc.rule:
            families.setdefault(sc.rule, set()).add(sc.family)
    shared = {rule: fams for rule, fams in families.items() if len(fams) > 1}
    assert not shared, f"a rule named by scenarios of different families: {shared}"


@pytest.mark.parametrize(
    "name",
    sorted(
        p.name
        for p in RECORDED.iterdir()
        if p.is_dir() and p.name in SCENARIOS and not SCENARIOS[p.name].is_control
    ),
)
def test_recorded_session_gets_the_manifest_rule(name: str) -> None:
    check_rule(analyze_dir(RECORDED / name), SCENARIOS[name])


@pytest.mark.parametrize(
    "name", sorted(p.name for p in RECORDED.iterdir() if p.is_dir() and p.name in SCENARIOS)
)
def test_every_finding_of_a_recorded_session_is_explained(name: str) -> None:
    v = analyze_dir(RECORDED / name)
    for f in v.findings:
        assert f.rule is not None, f"{name}: {f.id} has no rule"
    assert all(f.rule is None or f.rule.id for f in v.findings)
