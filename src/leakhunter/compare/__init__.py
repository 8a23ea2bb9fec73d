"""compare: verify a fix by judging a BEFORE and an AFTER session side by side."""

from __future__ import annotations

from leakhunter.compare.engine import compare_dirs, judge_side
from leakhunter.compare.figures import Figure, ProcessFigures, process_figures
from leakhunter.compare.judge import (
    COMPARE_SCHEMA,
    CompareOptions,
    Comparison,
    FindingChange,
    Result,
    Side,
    Status,
    judge_comparison,
)
from leakhunter.compare.match import match_findings, normalize_function

__all__ = [
    "COMPARE_SCHEMA",
    "CompareOptions",
    "Comparison",
    "Figure",
    "FindingChange",
    "ProcessFigures",
    "Result",
    "Side",
    "Status",
    "compare_dirs",
    "judge_comparison",
    "judge_side",
    "match_findings",
    "normalize_function",
    "process_figures",
]
