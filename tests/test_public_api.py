"""The public API, pinned (as httpx pins its own): a change here is a decision, not an accident.

Each public module's ``__all__`` is listed as it is meant to be. Adding a name
means adding it here too; removing or renaming one breaks users and needs a
note in the changelog of the release that does it.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "leakhunter": ["__version__"],
    "leakhunter.errors": [
        "FormatError",
        "LeakhunterError",
        "OutputError",
        "RuleError",
        "TargetError",
        "UsageError",
    ],
    "leakhunter.pipeline": [
        "Judged",
        "analyze_dir",
        "analyze_session",
        "fold",
        "judge",
        "judge_dir",
        "judge_path",
        "judge_session",
        "judge_source",
    ],
    "leakhunter.model": [
        "Frame",
        "Function",
        "Goroutine",
        "GoroutineDump",
        "GoroutineGroup",
        "Label",
        "Line",
        "Location",
        "Mapping",
        "Profile",
        "Sample",
        "Stacks",
        "ValueType",
        "WaitClass",
        "classify_state",
        "group_goroutines",
        "make_profile",
    ],
    "leakhunter.ops": [
        "BASE_LABEL",
        "Granularity",
        "NodeTable",
        "TopReport",
        "TopRow",
        "diff",
        "filter_samples",
        "merge",
        "node_table",
        "scale",
        "top",
    ],
    "leakhunter.collect": [
        "AgentSource",
        "FetchError",
        "FetchOptions",
        "Fetcher",
        "HttpSource",
        "Manifest",
        "ProfileDirSource",
        "Response",
        "Session",
        "SessionWriteError",
        "SessionWriter",
        "Snapshot",
        "SnapshotRecord",
        "Source",
        "SourceResult",
        "WatchOptions",
        "WatchResult",
        "collect",
        "fetch",
        "load_session",
    ],
    "leakhunter.collect.kinds": ["Cadence", "Decoder", "KINDS", "ProfileKind", "kind"],
    "leakhunter.collect.snapshot": ["MemorySnapshot", "SnapshotView"],
    "leakhunter.collect.session": [
        "FILE_SUFFIXES",
        "Manifest",
        "SCHEMA",
        "Session",
        "SessionInfo",
        "SessionWriteError",
        "SessionWriter",
        "Snapshot",
        "SnapshotRecord",
        "atomic_write",
        "is_session_dir",
        "load_manifest",
        "load_session",
    ],
    "leakhunter.analyze.analyzer": ["Analysis", "Analyzer", "RunEdges"],
    "leakhunter.analyze.options": ["AnalyzeOptions"],
    "leakhunter.analyze.verdict": [
        "Finding",
        "FindingKind",
        "FindingVerdict",
        "GoroutineFacts",
        "Growth",
        "Projection",
        "RuleMatch",
        "Series",
        "Verdict",
        "VerdictValue",
        "WindowVerdict",
    ],
    "leakhunter.analyze.history": ["History", "HistoryOptions", "WindowView"],
    "leakhunter.analyze.trend": ["Trend", "TrendOptions", "assess", "mann_kendall", "theil_sen"],
    "leakhunter.rules": [
        "Conditions",
        "ENV_VAR",
        "Match",
        "Rule",
        "SessionFacts",
        "SessionGroup",
        "apply_rules",
        "best_match",
        "builtin_rules",
        "check_paths",
        "finding_facts",
        "load_rules",
        "parse_rules",
        "rule_dirs_from_env",
    ],
    "leakhunter.report.renderer": [
        "RENDERERS",
        "Renderer",
        "RendererSpec",
        "gather_options_for",
        "load_renderer",
        "spec",
        "write_reports",
    ],
    "leakhunter.report.data": [
        "GatherOptions",
        "GoroutineGroups",
        "GroupRow",
        "ReportData",
        "SessionFacts",
        "gather",
    ],
    "leakhunter.agent": [
        "Agent",
        "AgentCore",
        "Response",
        "Routine",
        "RoutineTracker",
        "asgi_app",
        "start",
        "task_state",
        "thread_state",
        "wsgi_app",
    ],
    "leakhunter.guard": [
        "Block",
        "BufferPool",
        "BufferStats",
        "DropOldest",
        "Empty",
        "FailFast",
        "Full",
        "Policy",
        "PoolStats",
        "RingBuffer",
        "figures",
    ],
    "leakhunter.guard.metrics": ["GuardCollector", "Row", "guard_families", "register_metrics"],
    "leakhunter.harness": [
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
    ],
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_names_are_pinned(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == PUBLIC[name]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing
