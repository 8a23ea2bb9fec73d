"""compare(): two session folders in, a Comparison out (the library behind `compare`).

Each side is judged exactly as `analyze` judges it (pipeline.analyze_session), and its
whole-process figures come from the same run of the session the verdict used,
so the side-by-side numbers and the findings describe the same window.
"""

from __future__ import annotations

from pathlib import Path

from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.collect.session import load_session
from leakhunter.compare.figures import process_figures, usable_run
from leakhunter.compare.judge import CompareOptions, Comparison, Side, judge_comparison
from leakhunter.pipeline import analyze_session

__all__ = ["compare_dirs", "judge_side"]


def judge_side(directory: str | Path, options: AnalyzeOptions | None = None) -> Side:
    """Judge one session folder and compute its whole-process figures.

    Raises:
        FormatError: the folder is not a session or holds no usable snapshot.
    """
    o = options or AnalyzeOptions()
    session = load_session(directory)
    verdict = analyze_session(session, o)
    return Side(
        str(directory),
        verdict,
        process_figures(usable_run(session, o.trend.min_points), o.trend.min_points),
    )


def compare_dirs(
    before: str | Path,
    after: str | Path,
    options: AnalyzeOptions | None = None,
    compare_options: CompareOptions | None = None,
) -> Comparison:
    """Judge both session folders and compare them."""
    return judge_comparison(
        judge_side(before, options), judge_side(after, options), compare_options
    )
