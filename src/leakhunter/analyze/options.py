"""Options of the judgement, filled by CLI flags (and tests) alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from leakhunter.analyze.history import HistoryOptions
from leakhunter.analyze.trend import TrendOptions

__all__ = ["AnalyzeOptions"]


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """Knobs of the judgement; defaults are what the zoo accuracy bar was met with."""

    app_prefix: str | None = None
    limit_bytes: int | None = None
    trend: TrendOptions = field(default_factory=TrendOptions)
    min_heap_growth_bytes: float = 1 << 20
    min_heap_growth_fraction: float = 0.05
    #: below that fraction, a slow leak counts when the exact heap rose at this share of
    #: its moves (ties left out) over at least this many points (heap_leaking says why)
    slow_leak_monotone: float = 0.9
    slow_leak_min_points: int = 10
    min_site_share: float = 0.10
    min_goroutine_growth: float = 20.0
    min_fd_growth: float = 10.0  # descriptors over the window, at the least
    churn_min_rate: float = 16 * (1 << 20)
    churn_heap_ratio: float = 1.0
    max_findings: int = 10
    rule_dirs: tuple[str, ...] = ()  # user rule dirs, applied over the builtin rules
    #: windows judged besides the whole history, when the history is longer than them:
    #: a slow leak shows only in long windows, a new one first in short ones
    windows: tuple[tuple[str, float], ...] = (
        ("15m", 900.0),
        ("1h", 3600.0),
        ("6h", 21600.0),
        ("24h", 86400.0),
    )
    #: how much history the analyser keeps (full resolution, then means)
    history: HistoryOptions = field(default_factory=HistoryOptions)
