"""The accuracy bar (issue 4): every zoo scenario watched at 1 s for 15 snapshots.

Every leak gets verdict "leak" with an expected culprit on its first leak finding;
churn gets a churn finding and no leak; every control gets "no-leak". Scenarios
run three at a time (two cores; most of them idle between operations). Set
LEAKHUNTER_ZOO_ONLY=name,name to run a subset.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from leakhunter.analyze.analyzer import Analyzer
from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.watch import WatchOptions
from leakhunter.harness.manifest import ZooScenario, load_manifest
from leakhunter.harness.record import record
from leakhunter.pipeline import analyze_dir, judge
from leakhunter.report.verdict_json import verdict_to_dict
from test_rules_zoo import check_rule

pytestmark = [pytest.mark.go, pytest.mark.slow]

ONLY = {n for n in os.environ.get("LEAKHUNTER_ZOO_ONLY", "").split(",") if n}
SCENARIOS = [s for s in load_manifest() if not ONLY or s.name in ONLY]


#: per scenario: the verdict of the analyser fed live, and of analyze on the saved folder
folded: dict[str, tuple[Verdict, Verdict]] = {}


@pytest.fixture(scope="module")
def verdicts(zoo_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Verdict]:
    root = tmp_path_factory.mktemp("zoo-accuracy")

    def run(sc: ZooScenario) -> tuple[str, Verdict]:
        out = root / sc.name
        live = Analyzer(sc.name)
        record(
            sc.name,
            out,
            snapshots=15,
            interval=1.0,
            binary=zoo_binary,
            options=WatchOptions(),
            on_view=live.add,
        )
        batch = analyze_dir(out)
        folded[sc.name] = (judge(live.analysis()).verdict, batch)
        return sc.name, batch

    with ThreadPoolExecutor(3) as pool:
        return dict(pool.map(run, SCENARIOS))


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
def test_live_fold_equals_batch_analysis(sc: ZooScenario, verdicts: dict[str, Verdict]) -> None:
    """The analyser fed as snapshots arrive gives analyze's verdict on the saved folder."""
    live, batch = folded[sc.name]
    a, b = verdict_to_dict(live), verdict_to_dict(batch)
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
