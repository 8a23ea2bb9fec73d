"""Output of a verdict shared by watch, analyze, report, check and demo; exit codes per DESIGN.md.

The report files (--json, --html, --sarif, --junit, --pprof) come from the
renderer registry, so a new format gets its flag everywhere at once. Views
drawn from the judged run's profiles (flame graphs, goroutine groups) are
built only when a requested output shows them, from the snapshots the
analysis hands over.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from leakhunter.analyze.judge import AnalyzeOptions
from leakhunter.analyze.verdict import Verdict, VerdictValue
from leakhunter.cli.base import EXIT_INCONCLUSIVE, EXIT_LEAK, EXIT_OK
from leakhunter.cli.parse import size
from leakhunter.errors import UsageError
from leakhunter.pipeline import Judged
from leakhunter.report.data import ReportData, gather
from leakhunter.report.renderer import RENDERERS, gather_options_for, write_reports
from leakhunter.report.safe_text import for_terminal

__all__ = [
    "add_analysis_options",
    "add_output_options",
    "add_verdict_options",
    "analyze_options",
    "emit_verdict",
    "exit_code",
    "requested_outputs",
    "write_outputs",
]


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    """Declare the options that change the verdict: --limit, --app-prefix, --rules."""
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
    parser.add_argument(
        "--rules",
        action="append",
        metavar="DIR",
        help="also apply the *.toml rule files of DIR (repeatable; after LEAKHUNTER_RULES)",
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Declare one --FORMAT PATH flag per registered report format, and --source-root."""
    for spec in RENDERERS:
        parser.add_argument(f"--{spec.name}", metavar="PATH", help=spec.help)
    parser.add_argument(
        "--source-root",
        metavar="DIR",
        help="repository root: SARIF gives files under it as relative paths, as code "
        "scanning needs (default: LEAKHUNTER_SOURCE_ROOT, else the current directory)",
    )


def add_verdict_options(parser: argparse.ArgumentParser) -> None:
    """Declare the analysis options, the report files, --no-color and --quiet."""
    add_output_options(parser)
    add_analysis_options(parser)
    parser.add_argument("--no-color", action="store_true", help="no colours in the report")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the one-line summary"
    )


def analyze_options(args: argparse.Namespace) -> AnalyzeOptions:
    """Build AnalyzeOptions from parsed flags (rule dirs: LEAKHUNTER_RULES, then --rules)."""
    from leakhunter.rules.loader import load_rules, rule_dirs_from_env

    dirs = rule_dirs_from_env() + tuple(getattr(args, "rules", None) or ())
    if dirs:
        load_rules(dirs)  # bad rule files fail now, not after a long watch
    return AnalyzeOptions(app_prefix=args.app_prefix, limit_bytes=args.limit, rule_dirs=dirs)


def exit_code(v: Verdict) -> int:
    """0 no leak, 1 leak, 3 inconclusive (2 is for errors, raised elsewhere)."""
    return {
        VerdictValue.NO_LEAK: EXIT_OK,
        VerdictValue.LEAK: EXIT_LEAK,
        VerdictValue.INCONCLUSIVE: EXIT_INCONCLUSIVE,
    }[v.verdict]


def requested_outputs(args: argparse.Namespace) -> dict[str, str]:
    """Return {format: path} of the report files asked for; at most one may be "-" (stdout)."""
    outputs = {s.name: getattr(args, s.name) for s in RENDERERS if getattr(args, s.name, None)}
    to_stdout = [f"--{name}" for name, path in outputs.items() if path == "-"]
    if len(to_stdout) > 1:
        raise UsageError(f"only one output can go to stdout, not {' and '.join(to_stdout)}")
    return outputs


def _color(args: argparse.Namespace) -> bool:
    if getattr(args, "no_color", False) or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def write_outputs(
    v: Verdict,
    outputs: dict[str, str],
    source: Judged | None,
    *,
    terminal: bool = False,
    source_root: str | None = None,
) -> ReportData:
    """Build the views the outputs need, write the files; return the ReportData.

    ``source`` is the judged run the views come from (None: the verdict alone);
    ``terminal`` also builds the goroutine groups the terminal report shows.
    """
    opts = gather_options_for(list(outputs), goroutines=terminal)
    edges, info = (source.edges, source.session) if source is not None else (None, None)
    report = gather(v, edges, info, opts)
    if source_root:
        report = replace(report, source_root=source_root)
    for path in write_reports(report, outputs):
        sys.stderr.write(f"leakhunter: wrote {path}\n")
    return report


def emit_verdict(v: Verdict, args: argparse.Namespace, source: Judged | None = None) -> int:
    """Print the report, write requested files, and return the exit code.

    ``source`` is the judged run the verdict came from; the HTML report and the
    terminal's goroutine groups are drawn from its snapshots.
    """
    outputs = requested_outputs(args)
    to_terminal = "-" not in outputs.values()
    report = write_outputs(
        v,
        outputs,
        source,
        terminal=to_terminal and not args.quiet and source is not None,
        source_root=getattr(args, "source_root", None),
    )
    if to_terminal:
        if args.quiet:
            print(for_terminal(f"{v.verdict.value}: {v.summary}"))
        else:
            from leakhunter.report.terminal import render_verdict_text

            try:
                width = os.get_terminal_size().columns if sys.stdout.isatty() else 100
            except OSError:
                width = 100
            color = _color(args)
            text = render_verdict_text(
                v, width=width, color=color, goroutines=report.goroutines, boxes=color
            )
            sys.stdout.write(text)
    sys.stdout.flush()
    return exit_code(v)
