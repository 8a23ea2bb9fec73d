"""Options shared by `top` and `diff`, and the pipeline they both run."""

from __future__ import annotations

import argparse
import re
import sys

from leakhunter.cli.parse import count, fraction
from leakhunter.errors import UsageError
from leakhunter.model.profile import Profile
from leakhunter.ops.aggregate import Granularity, report_total, top
from leakhunter.ops.filter import filter_samples
from leakhunter.report.top_text import render_top_json, render_top_text
from leakhunter.safe_numbers import MAX_INT64

__all__ = ["add_top_options", "run_top"]


def add_top_options(parser: argparse.ArgumentParser) -> None:
    """Declare --sample-index, --by, -n, --focus, --ignore, --node-fraction, --json."""
    parser.add_argument(
        "--sample-index",
        metavar="NAME",
        help="sample type to report (default: the profile's default, else the last)",
    )
    parser.add_argument(
        "--by",
        choices=[g.value for g in Granularity],
        default=Granularity.FUNCTION.value,
        help="aggregate by function (default), source line, or whole stack",
    )
    parser.add_argument(
        "-n", type=count(0, MAX_INT64), default=None, metavar="N", help="show the top N rows"
    )
    parser.add_argument("--focus", metavar="RE", help="keep samples with a frame matching RE")
    parser.add_argument("--ignore", metavar="RE", help="drop samples with a frame matching RE")
    parser.add_argument(
        "--node-fraction",
        type=fraction,
        default=0.005,
        metavar="F",
        help="hide nodes below this fraction of the total, like pprof (default 0.005; 0 = all)",
    )
    parser.add_argument("--json", action="store_true", help="print leakhunter.top/1 JSON")


def run_top(profile: Profile, args: argparse.Namespace, title: str) -> int:
    """Filter, aggregate and print a profile according to the shared options."""
    for flag in ("focus", "ignore"):
        pattern = getattr(args, flag)
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise UsageError(f"--{flag}: invalid regular expression ({exc})") from None
    try:
        index = profile.sample_index(args.sample_index)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    # pprof reports percentages of the whole profile, so the total is taken
    # before --focus/--ignore drop samples.
    total = report_total(profile, index)
    profile = filter_samples(profile, args.focus, args.ignore)
    report = top(profile, index, Granularity(args.by), args.n, args.node_fraction, total=total)
    text = render_top_json(report) if args.json else render_top_text(report, title)
    sys.stdout.write(text + "\n")
    return 0
