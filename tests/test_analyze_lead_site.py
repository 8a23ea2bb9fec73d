"""A proven heap leak names its one growing site even when that site has few samples.

Real recording: the zoo's context-withtimeout-no-cancel (a dropped ``cancel``; each
call leaves a ~112-byte timer and its context behind, ~280 KiB/s). The heap profile
samples one allocation per 512 KiB (at random), and in this recording the culprit's
site held one raw sample for the first 11 s and two at 12 s: too few for a trend test,
while the exact live heap rose at every snapshot. From 13 s the site's own trend names it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from leakhunter.analyze.verdict import FindingKind, FindingVerdict, Verdict
from leakhunter.pipeline import analyze_dir

SESSION = Path(__file__).parent / "data" / "sessions" / "context-withtimeout-no-cancel"
CULPRIT = "github.com/leakhunter/zoo/scenarios/ctxtimeout.(*PricingService).callContext"


def first(session: Path, n: int, tmp_path: Path) -> Verdict:
    """Analyse the first n snapshots of the recording."""
    dst = tmp_path / f"first-{n}"
    shutil.copytree(session, dst)
    for record in sorted(dst.glob("0*.json"))[n:]:
        record.unlink()
    return analyze_dir(dst)


def test_two_samples_name_the_only_site_that_grew(tmp_path: Path) -> None:
    v = first(SESSION, 12, tmp_path)
    lead = v.findings[0]
    assert v.verdict.value == "leak" and lead.verdict is FindingVerdict.LEAK
    assert lead.kind is FindingKind.HEAP
    assert lead.culprit is not None and lead.culprit.function == CULPRIT
    assert lead.rule is not None and lead.rule.id == "GO-CONTEXT-CANCEL-NOT-CALLED"
    assert "2 raw samples" in lead.evidence[0], lead.evidence
    # its rate is the exact heap's (the site's own trend proves nothing yet)
    assert lead.growth.per_hour > 500 * (1 << 20), lead.growth


def test_one_sample_is_not_enough_to_name_a_culprit(tmp_path: Path) -> None:
    """Eleven snapshots: the site holds one raw sample; the culprit stays unknown."""
    v = first(SESSION, 11, tmp_path)
    assert v.verdict.value == "leak"
    assert v.findings[0].culprit is None
    assert any("sampled enough" in e for e in v.findings[0].evidence)


def test_the_whole_recording_attributes_on_the_site_s_own_trend(tmp_path: Path) -> None:
    v = analyze_dir(SESSION)
    lead = v.findings[0]
    assert lead.culprit is not None and lead.culprit.function == CULPRIT
    assert not any("raw samples" in e for e in lead.evidence)
    # a trend-attributed culprit is trusted more than a few-sample one
    assert lead.confidence > first(SESSION, 12, tmp_path).findings[0].confidence


@pytest.mark.parametrize("n", [12, 13, 14, 16])
def test_more_snapshots_keep_the_same_culprit(n: int, tmp_path: Path) -> None:
    v = first(SESSION, n, tmp_path)
    assert v.findings[0].culprit is not None
    assert v.findings[0].culprit.function == CULPRIT
