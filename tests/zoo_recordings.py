"""One fresh recording of every zoo scenario, shared by the accuracy and sanity tests.

Recording the zoo (every scenario and its fixed variant, 15 snapshots at 1 s,
three at a time on two cores) is the longest part of the suite; both the
detector's accuracy and the zoo's own sanity are judged on the same folders.
Each scenario is also fed live to an analyser as its snapshots arrive, so the
live fold can be compared with analyze on the saved folder.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from leakhunter.analyze.analyzer import Analyzer
from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.watch import WatchOptions
from leakhunter.errors import LeakhunterError
from leakhunter.harness.build import ZooBuildError
from leakhunter.harness.manifest import ZooScenario, load_manifest
from leakhunter.harness.record import record
from leakhunter.pipeline import judge

#: snapshots per recording, one a second
SNAPSHOTS = 15
#: scenarios recorded at once (most idle between operations; the machine has two cores)
PARALLEL = 3


def selected_scenarios() -> tuple[ZooScenario, ...]:
    """The manifest's scenarios, or the subset LEAKHUNTER_ZOO_ONLY=name,name names."""
    only = {n for n in os.environ.get("LEAKHUNTER_ZOO_ONLY", "").split(",") if n}
    try:
        return tuple(s for s in load_manifest() if not only or s.name in only)
    except ZooBuildError:  # no zoo sources: the go-marked tests skip or fail on their own
        return ()


@dataclass(frozen=True)
class ZooRecording:
    """A scenario's session folder and the verdict of the analyser fed live (or the error)."""

    folder: Path
    live: Verdict | None = None
    error: str = ""


def record_all(
    scenarios: tuple[ZooScenario, ...], binary: Path, root: Path
) -> dict[str, ZooRecording]:
    """Record every scenario into root/<name>; a scenario that cannot run keeps its error."""

    def one(sc: ZooScenario) -> tuple[str, ZooRecording]:
        out = root / sc.name
        live = Analyzer(sc.name)
        try:
            record(
                sc.name,
                out,
                snapshots=SNAPSHOTS,
                interval=1.0,
                binary=binary,
                options=WatchOptions(),
                on_view=live.add,
            )
        except LeakhunterError as exc:
            return sc.name, ZooRecording(out, error=str(exc))
        return sc.name, ZooRecording(out, judge(live.analysis()).verdict)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return dict(pool.map(one, scenarios))
