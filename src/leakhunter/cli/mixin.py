"""`leakhunter mixin`: write serve's alert rules, recording rules and Grafana dashboard.

The monitoring-mixin layout under ``--out``: ``prometheus_alerts.yaml``,
``prometheus_rules.yaml``, ``dashboards/leakhunter.json``. Every threshold
and ``for:`` duration is an option with the default docs/alerts.md explains.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import ClassVar

from leakhunter.cli.base import EXIT_OK
from leakhunter.cli.parse import duration, fraction
from leakhunter.errors import UsageError

__all__ = ["MixinCommand"]

_ZERO = re.compile(r"0+(\.0*)?(ms|s|m|h|d)?")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    if not 0.0 < value < 1e15:  # False for NaN too
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text[:40]!r}")
    return value


def _duration0(text: str) -> float:
    """A duration that may be zero (``for: 0s`` fires at the first evaluation)."""
    return 0.0 if _ZERO.fullmatch(text.strip()) else duration(text)


class MixinCommand:
    """Write the Prometheus rules and the Grafana dashboard for serve's metrics."""

    name: ClassVar[str] = "mixin"
    help: ClassVar[str] = "write Prometheus alert/recording rules and a Grafana dashboard for serve"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare --out, links, the selector and every threshold and for: duration."""
        from leakhunter.serve.mixin.options import DEFAULT_SERVE_URL, MixinOptions

        d = MixinOptions()
        parser.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
        parser.add_argument(
            "--operator",
            metavar="NAMESPACE",
            help="also write a PrometheusRule and a Grafana dashboard ConfigMap in NAMESPACE "
            "(kubernetes/), for the Prometheus Operator",
        )
        links = parser.add_argument_group("links and series")
        links.add_argument(
            "--serve-url",
            default=d.serve_url,
            metavar="URL",
            help="base URL of serve's pages in alert links; may use {{ $labels.NAME }} "
            f"(default {DEFAULT_SERVE_URL!r}: the serve Prometheus scraped)",
        )
        links.add_argument(
            "--selector",
            default=d.selector,
            metavar="MATCHERS",
            help="label matchers added to every series, e.g. 'job=\"leakhunter\"'",
        )
        links.add_argument("--runbook-url", default="", metavar="URL", help="runbook base URL")
        alerts = parser.add_argument_group("thresholds and for: durations")

        def dur(flag: str, default: float, text: str) -> None:
            alerts.add_argument(
                flag, type=_duration0, default=default, metavar="DURATION", help=text
            )

        dur("--leak-for", d.leak_for, "LeakDetected: how long a leak must hold (default 5m)")
        dur("--oom-within", d.oom_within, "OutOfMemorySoon: time-to-OOM under this (default 4h)")
        dur("--oom-for", d.oom_for, "OutOfMemorySoon: for (default 10m)")
        dur("--deriv-window", d.deriv_window, "range deriv() fits over (default 30m)")
        alerts.add_argument(
            "--goroutines-per-hour",
            type=_positive,
            default=d.goroutines_per_hour,
            metavar="N",
            help="GoroutinesGrowing: growth per hour over this (default 100)",
        )
        dur("--goroutines-for", d.goroutines_for, "GoroutinesGrowing: for (default 30m)")
        alerts.add_argument(
            "--fd-ratio",
            type=fraction,
            default=d.fd_ratio,
            metavar="F",
            help="FdExhaustion (critical): open/limit over this (default 0.9)",
        )
        dur("--fd-within", d.fd_within, "FdExhaustion (warning): limit reached within (default 4h)")
        dur("--fd-for", d.fd_for, "FdExhaustion: for (default 30m)")
        dur("--down-for", d.down_for, "TargetDown: for (default 5m)")

    def run(self, args: argparse.Namespace) -> int:
        """Build the options, write the files, list them."""
        from leakhunter.serve.mixin import MixinOptions, write_mixin

        try:
            options = MixinOptions(
                serve_url=args.serve_url,
                selector=args.selector,
                runbook_url=args.runbook_url,
                leak_for=args.leak_for,
                oom_within=args.oom_within,
                oom_for=args.oom_for,
                deriv_window=args.deriv_window,
                goroutines_per_hour=args.goroutines_per_hour,
                goroutines_for=args.goroutines_for,
                fd_ratio=args.fd_ratio,
                fd_within=args.fd_within,
                fd_for=args.fd_for,
                down_for=args.down_for,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        for path in write_mixin(options, Path(args.out), args.operator):
            sys.stdout.write(f"{path}\n")
        return EXIT_OK
