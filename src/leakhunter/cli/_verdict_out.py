"""Output of a verdict shared by watch, analyze, check and demo; exit codes per DESIGN.md."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from leakhunter.analyze.judge import AnalyzeOptions
from leakhunter.analyze.verdict import Verdict, VerdictValue
from leakhunter.cli.base import EXIT_INCONCLUSIVE, EXIT_LEAK, EXIT_OK
from leakhunter.cli.parse import size
from leakhunter.collect.session import atomic_write
from leakhunter.errors import UsageError

__all__ = ["add_verdict_options", "analyze_options", "emit_verdict", "exit_code"]


def add_verdict_options(parser: argparse.ArgumentParser) -> None:
    """Declare --json, --limit, --app-prefix, --no-color, --quiet."""
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="write the verdict as JSON (leakhunter.verdict/1); - = stdout",
    )
    parser.add_argument(
        "--limit",
        type=size,
        metavar="SIZE",
        help="memory limit for time-to-OOM, e.g. 2GiB (default: the target's GOMEMLIMIT)",
    )
    parser.add_argument(
        "--app-prefix",
        metavar="PREFIX",
        help="function-name prefix of the application's own code (default: detected)",
    )
    parser.add_argument("--no-color", action="store_true", help="no colours in the report")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the one-line summary"
    )


def analyze_options(args: argparse.Namespace) -> AnalyzeOptions:
    """Build AnalyzeOptions from parsed flags."""
    return AnalyzeOptions(app_prefix=args.app_prefix, limit_bytes=args.limit)


def exit_code(v: Verdict) -> int:
    """0 no leak, 1 leak, 3 inconclusive (2 is for errors, raised elsewhere)."""
    return {
        VerdictValue.NO_LEAK: EXIT_OK,
        VerdictValue.LEAK: EXIT_LEAK,
        VerdictValue.INCONCLUSIVE: EXIT_INCONCLUSIVE,
    }[v.verdict]


def _color(args: argparse.Namespace) -> bool:
    if args.no_color or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def emit_verdict(v: Verdict, args: argparse.Namespace) -> int:
    """Print the report, write requested files, and return the exit code."""
    from leakhunter.report.verdict_json import render_verdict_json

    if args.json:
        doc = render_verdict_json(v) + "\n"
        if args.json == "-":
            sys.stdout.write(doc)
        else:
            try:
                atomic_write(Path(args.json), doc.encode())
            except OSError as exc:
                raise UsageError(f"cannot write {args.json}: {exc.strerror}") from None
    if args.json != "-":
        if args.quiet:
            print(f"{v.verdict.value}: {v.summary}")
        else:
            from leakhunter.report.terminal import render_verdict_text

            width = None
            try:
                width = os.get_terminal_size().columns if sys.stdout.isatty() else 100
            except OSError:
                width = 100
            sys.stdout.write(render_verdict_text(v, width=width, color=_color(args)))
    sys.stdout.flush()
    return exit_code(v)
