"""The accuracy bar (issue 4): every zoo scenario watched at 1 s for 15 snapshots.

Every leak gets verdict "leak" with an expected culprit on its first leak finding;
churn gets a churn finding and no leak; every control gets "no-leak". The
recordings are shared with the zoo sanity test (``zoo_recordings.py``). Set
LEAKHUNTER_ZOO_ONLY=name,name to run a subset.
"""

from __future__ import annotations

import pytest

from leakhunter.analyze.verdict import Verdict
from leakhunter.harness.manifest import ZooScenario
from leakhunter.pipeline import analyze_dir
from leakhunter.report.verdict_json import verdict_to_dict
from test_rules_zoo import check_rule
from zoo_recordings import ZooRecording, selected_scenarios

pytestmark = [pytest.mark.go, pytest.mark.slow]

SCENARIOS = selected_scenarios()


@pytest.fixture(scope="module")
def verdicts(zoo_recordings: dict[str, ZooRecording]) -> dict[str, Verdict]:
    """analyze on each scenario's saved folder (shared with the zoo sanity test)."""
    out = {}
    for sc in SCENARIOS:
        rec = zoo_recordings[sc.name]
        assert not rec.error, f"{sc.name}: {rec.error}"
        out[sc.name] = analyze_dir(rec.folder)
    return out


def _describe(v: Verdict) -> str:
    return (
        v.summary
        + "; "
        + "; ".join(
            f"{f.verdict.value}/{f.kind.value} {f.culprit.function if f.culprit else '?'}"
            for f in v.findings
        )
    )


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_zoo_verdict(sc: ZooScenario, verdicts: dict[str, Verdict]) -> None:
    v = verdicts[sc.name]
    leaks = [f for f in v.findings if f.verdict.value == "leak"]
    if sc.verdict == "leak":
        assert v.verdict.value == "leak", _describe(v)
        first = leaks[0]
        assert first.culprit is not None and first.culprit.function in sc.culprits, _describe(v)
    elif sc.verdict == "churn":
        assert v.verdict.value == "no-leak", _describe(v)
        assert any(f.kind.value == "churn" for f in v.findings), _describe(v)
    else:
        assert v.verdict.value == "no-leak", _describe(v)


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_live_fold_equals_batch_analysis(
    sc: ZooScenario, verdicts: dict[str, Verdict], zoo_recordings: dict[str, ZooRecording]
) -> None:
    """The analyser fed as snapshots arrive gives analyze's verdict on the saved folder."""
    live = zoo_recordings[sc.name].live
    assert live is not None
    a, b = verdict_to_dict(live), verdict_to_dict(verdicts[sc.name])
    a["target"] = b["target"]  # the live analyser was named after the scenario
    assert a == b


@pytest.mark.parametrize(
    "sc",
    [s for s in SCENARIOS if not s.is_control],
    ids=[s.name for s in SCENARIOS if not s.is_control],
)
def test_zoo_rule(sc: ZooScenario, verdicts: dict[str, Verdict]) -> None:
    """Every leak (and churn) scenario, recorded fresh, names the manifest's pattern."""
    check_rule(verdicts[sc.name], sc)


def test_the_fixed_writer_drops_what_its_sink_cannot_take(verdicts: dict[str, Verdict]) -> None:
    """py-unbounded-writer-buffer-fixed: no leak, and its RingBuffer's drop counter rising."""
    name = "py-unbounded-writer-buffer-fixed"
    if name not in verdicts:
        pytest.skip(f"{name} not selected (LEAKHUNTER_ZOO_ONLY)")
    v = verdicts[name]
    assert v.verdict.value == "no-leak", _describe(v)
    (buf,) = [g for g in v.guards if g.kind == "buffer"]
    assert buf.policy == "drop-oldest" and buf.level is not None and buf.level > 0.9, buf
    assert buf.dropped_per_second is not None and buf.dropped_per_second > 50, buf
