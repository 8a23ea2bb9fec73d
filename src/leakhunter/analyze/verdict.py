"""The analysis result: findings, projection and the verdict (schema leakhunter.verdict/1).

Plain frozen data: the analysis builds it, renderers format it, nothing else
computes on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from leakhunter.analyze.figures import GcFigures
from leakhunter.analyze.guard_figures import GuardFigures
from leakhunter.model.goroutine import Frame

__all__ = [
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
]


class FindingKind(StrEnum):
    """What kind of evidence a finding rests on first."""

    HEAP = "heap"
    GOROUTINE = "goroutine"
    CHURN = "churn"
    FD = "fd"  # open file descriptors and sockets


class FindingVerdict(StrEnum):
    """How sure we are that a finding is a leak."""

    LEAK = "leak"
    SUSPECT = "suspect"
    CHURN = "churn"


class VerdictValue(StrEnum):
    """The overall answer."""

    LEAK = "leak"
    NO_LEAK = "no-leak"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class Growth:
    """Fitted growth over the window."""

    unit: str  # "bytes" | "goroutines"
    start: float
    end: float
    per_hour: float


@dataclass(frozen=True, slots=True)
class Series:
    """A time series for charts: seconds since the window start, and values."""

    label: str
    unit: str
    t: tuple[float, ...]
    values: tuple[float, ...]
    fit_slope: float = 0.0  # units per second
    fit_start: float = 0.0  # fitted value at t[0]


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """The leak pattern a rule recognised in a finding."""

    id: str
    title: str
    fix: str
    explanation: str = ""
    matched: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    sketch: str = ""  # a short code sketch of the fix (Go), may span lines


@dataclass(frozen=True, slots=True)
class GoroutineFacts:
    """What the goroutine evidence of a finding says, for reports."""

    state: str
    state_class: str
    count_start: int
    count_end: int
    wait_minutes_max: int | None = None
    leaked: int = 0
    created_by: Frame | None = None
    state_inferred: bool = False
    stack: tuple[Frame, ...] = ()  # the group's stack (the finding's may be a linked heap one)


@dataclass(frozen=True, slots=True)
class Finding:
    """One leak (or suspect, or churn) with its culprit, growth and evidence."""

    id: str
    kind: FindingKind
    verdict: FindingVerdict
    confidence: float
    culprit: Frame | None
    stack: tuple[Frame, ...]
    growth: Growth
    evidence: tuple[str, ...]
    rule: RuleMatch | None = None
    series: tuple[Series, ...] = ()
    goroutines: GoroutineFacts | None = None
    app_frames: tuple[str, ...] = ()
    linked: tuple[str, ...] = ()  # kinds of evidence merged into this finding
    # how a culprit not on the finding's stacks was inferred (analyze/inference.py):
    # "runs" (the allocating library runs it), "enters" (it calls that library); "" seen
    culprit_via: str = ""
    exhaustion_seconds: float | None = None  # fds: time until the descriptor limit
    window: str = ""  # the window that shows the growth ("all", "15m", "1h", ...)
    window_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class WindowVerdict:
    """How one window of the history was judged (the whole history is "all")."""

    label: str
    seconds: float  # the span the window's points cover
    points: int  # points judged (snapshots, or per-minute/per-hour means)
    verdict: VerdictValue
    downsampled: bool = False  # points are means of several snapshots
    heap_per_hour: float | None = None  # exact live heap, Theil-Sen
    findings: int = 0  # leak findings in this window


@dataclass(frozen=True, slots=True)
class Projection:
    """When the process would reach its memory limit at the current leak rate."""

    limit_bytes: int | None
    time_to_oom_seconds: float | None
    limit_source: str = ""  # "--limit" | "cgroup memory limit" | "GOMEMLIMIT" | ""
    footprint_bytes: int | None = None
    growth_bytes_per_second: float | None = None
    footprint_source: str = ""  # the MemStats figures the footprint is made of
    rate_source: str = ""  # ... and those the growth rate was fitted on


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one watch window."""

    target: str
    snapshots: int
    window_seconds: float
    verdict: VerdictValue
    findings: tuple[Finding, ...]
    projection: Projection
    summary: str = ""
    notes: tuple[str, ...] = ()
    heap: Series | None = None
    goroutines: Series | None = None
    app_prefix: str | None = None
    restarts: int = 0
    extra_series: tuple[Series, ...] = field(default=())
    libraries: tuple[str, ...] = ()  # third-party modules seen anywhere in the session
    windows: tuple[WindowVerdict, ...] = ()  # each window judged, whole history first
    gc: GcFigures | None = None  # GC pressure of the judged window (exact MemStats)
    guards: tuple[GuardFigures, ...] = ()  # a Python service's leakhunter.guard figures
