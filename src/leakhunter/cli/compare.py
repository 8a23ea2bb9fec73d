"""`leakhunter compare BEFORE AFTER`: did the fix work? Exit codes per DESIGN.md's compare contract.

Each side is a saved session folder or a URL watched now (with watch's
options; a URL side is saved under --out, else watch's default folder).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import ClassVar

from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.cli._verdict_out import add_analysis_options, analyze_options
from leakhunter.cli.base import EXIT_INCONCLUSIVE, EXIT_LEAK, EXIT_OK
from leakhunter.cli.watch import add_watch_options, default_out_dir
from leakhunter.compare.judge import Comparison, Result
from leakhunter.errors import UsageError

__all__ = ["CompareCommand", "compare_exit_code", "emit_comparison", "is_url"]


def is_url(source: str) -> bool:
    """Return True for a side to watch now (http(s) URL), False for a session folder."""
    return source.startswith(("http://", "https://"))


def compare_exit_code(c: Comparison) -> int:
    """0 fixed (or nothing leaked before and nothing now), 1 not fixed or new leak, 3 undecided."""
    return {
        Result.FIXED: EXIT_OK,
        Result.NOT_FIXED: EXIT_LEAK,
        Result.REGRESSED: EXIT_LEAK,
        Result.INCONCLUSIVE: EXIT_INCONCLUSIVE,
    }[c.result]


def add_compare_output_options(parser: argparse.ArgumentParser) -> None:
    """Declare one --FORMAT PATH flag per compare report format, --no-color and --quiet."""
    from leakhunter.report.compare_files import COMPARE_RENDERERS

    for spec in COMPARE_RENDERERS:
        parser.add_argument(f"--{spec.name}", metavar="PATH", help=spec.help)
    parser.add_argument("--no-color", action="store_true", help="no colours in the report")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the one-line summary"
    )


def emit_comparison(c: Comparison, args: argparse.Namespace) -> int:
    """Write the requested report files, print the terminal report, return the exit code."""
    from leakhunter.report.compare_files import COMPARE_RENDERERS, write_compare_reports
    from leakhunter.report.compare_text import render_compare_text

    outputs = {s.name: getattr(args, s.name) for s in COMPARE_RENDERERS if getattr(args, s.name)}
    if sum(1 for p in outputs.values() if p == "-") > 1:
        raise UsageError("only one output can go to stdout")
    for path in write_compare_reports(c, outputs):
        sys.stderr.write(f"leakhunter: wrote {path}\n")
    if "-" not in outputs.values():
        if args.quiet:
            print(f"{c.result.value}: {c.summary}")
        else:
            color = sys.stdout.isatty() and not args.no_color and not os.environ.get("NO_COLOR")
            try:
                width = os.get_terminal_size().columns if sys.stdout.isatty() else 100
            except OSError:
                width = 100
            sys.stdout.write(render_compare_text(c, width=width, color=color))
    sys.stdout.flush()
    return compare_exit_code(c)


class CompareCommand:
    """Judge a BEFORE and an AFTER session (or live target) and say whether the leak is gone."""

    name: ClassVar[str] = "compare"
    help: ClassVar[str] = "verify a fix: compare a BEFORE and an AFTER session (or live URL)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare BEFORE, AFTER, watch options for URL sides, analysis and report options."""
        parser.add_argument("before", metavar="BEFORE", help="session folder or URL to watch now")
        parser.add_argument("after", metavar="AFTER", help="session folder or URL to watch now")
        add_watch_options(parser)
        add_analysis_options(parser)
        add_compare_output_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Collect URL sides, judge both, report."""
        from leakhunter.compare.engine import compare_dirs

        aopts = analyze_options(args)
        before = self._side(args.before, "before", args, aopts)
        after = self._side(args.after, "after", args, aopts)
        return emit_comparison(compare_dirs(before, after, aopts), args)

    @staticmethod
    def _side(source: str, label: str, args: argparse.Namespace, aopts: AnalyzeOptions) -> Path:
        if not is_url(source):
            path = Path(source)
            if not (path / "manifest.json").is_file() and not any(path.glob("*.json")):
                raise UsageError(f"{source}: not a session folder (nor an http(s) URL)")
            return path
        from leakhunter.cli._watch_run import run_watch
        from leakhunter.cli.watch import target_and_options

        url, wopts = target_and_options(source, args)  # credentials never stored or shown
        out = Path(args.out) / label if args.out else default_out_dir(url)
        sys.stderr.write(f"leakhunter compare: watching {label.upper()} {url}\n")
        color = not args.no_color and sys.stderr.isatty()
        run_watch(url, wopts, aopts, out, color=color)
        return out
