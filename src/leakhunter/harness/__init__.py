"""The zoo harness: build the Go zoo, run scenarios, record sessions (tests, benchmarks, demo)."""

from __future__ import annotations

from leakhunter.harness.build import GoNotFoundError, ZooBuildError, build_zoo, zoo_dir
from leakhunter.harness.manifest import ZooScenario, load_manifest
from leakhunter.harness.record import record
from leakhunter.harness.run import RunningScenario, ZooStartError, start

__all__ = [
    "GoNotFoundError",
    "RunningScenario",
    "ZooBuildError",
    "ZooScenario",
    "ZooStartError",
    "build_zoo",
    "load_manifest",
    "record",
    "start",
    "zoo_dir",
]
