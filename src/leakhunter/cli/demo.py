"""`leakhunter demo`: watch a real leaking zoo service for ~30 s and print the verdict."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

from leakhunter.cli._verdict_out import add_verdict_options, analyze_options, emit_verdict
from leakhunter.cli.parse import count, duration

__all__ = ["DemoCommand"]

DEFAULT_SCENARIO = "grpc-stream-not-closed"
PYTHON_SCENARIO = "py-task-queue-no-consumer"
DEMO_MEMLIMIT = 256 << 20


class DemoCommand:
    """Build and start a zoo leak, watch it, print the verdict.

    Without Go it runs a live Python leak served by leakhunter.agent, and only
    when that cannot start either, analyses the recorded session.
    """

    name: ClassVar[str] = "demo"
    help: ClassVar[str] = "watch a real leaking demo service for ~30 s and print the verdict"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare --scenario, --snapshots, --interval, --out and the verdict options."""
        parser.add_argument(
            "--scenario",
            default=DEFAULT_SCENARIO,
            help=f"zoo scenario (default {DEFAULT_SCENARIO})",
        )
        parser.add_argument(
            "--snapshots", type=count(1, 10**6), default=16, help="snapshots (default 16)"
        )
        parser.add_argument(
            "--interval", type=duration, default=2.0, help="seconds between snapshots (default 2)"
        )
        parser.add_argument("--out", metavar="DIR", help="keep the session here")
        parser.add_argument(
            "--offline",
            action="store_true",
            help="analyse the recorded demo session instead of running a service",
        )
        add_verdict_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Run the live demo, or the recorded one when Go is missing."""
        from leakhunter.harness.build import GoNotFoundError, build_zoo

        if args.offline:
            return self._offline(args, "--offline given")
        try:
            say(
                "building the leak zoo (cached after the first time; the first build "
                "downloads modules and takes a few minutes)..."
            )
            binary = build_zoo()
        except GoNotFoundError as exc:
            return self._python(args, str(exc))
        return self._live(args, binary)

    def _python(self, args: argparse.Namespace, why: str) -> int:
        """Run the live Python leak (needs no Go); the recorded session if it cannot start."""
        from leakhunter.harness.manifest import find_scenario
        from leakhunter.harness.run import ZooStartError

        entry = find_scenario(args.scenario)
        if entry is None or entry.runtime != "python":
            args.scenario = PYTHON_SCENARIO
        say(f"no Go toolchain ({why}); running the live Python leak {args.scenario} instead")
        try:
            return self._live(args, None)
        except ZooStartError as exc:
            return self._offline(args, f"{why}; the Python demo did not start: {exc}")

    def _live(self, args: argparse.Namespace, binary: Path | None) -> int:
        from leakhunter.cli._watch_run import run_watch
        from leakhunter.collect.watch import WatchOptions
        from leakhunter.harness.run import start

        window = (args.snapshots - 1) * args.interval
        # A memory limit on the demo service, as GOMEMLIMIT would set, so the
        # verdict can project time-to-OOM from what the target itself exposes.
        limit = ["-memlimit", str(DEMO_MEMLIMIT)]
        with start(
            args.scenario, duration=window + 60, linger=60, binary=binary, extra_args=limit
        ) as svc:
            say(f"started zoo scenario {args.scenario} (pid {svc.pid}) at {svc.url}")
            say(f"watching it: {args.snapshots} snapshots, every {args.interval:g} s")
            out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="leakhunter-demo-"))
            if args.out is None:
                out = out / "session"
            wopts = WatchOptions(interval=args.interval, snapshots=args.snapshots)
            judged = run_watch(
                svc.url,
                wopts,
                analyze_options(args),
                out,
                manifest_options={"zoo_scenario": args.scenario},
                color=not args.no_color and sys.stderr.isatty(),
            )
        return emit_verdict(judged.verdict, args, judged)

    def _offline(self, args: argparse.Namespace, why: str) -> int:
        from leakhunter.harness.recorded import demo_session
        from leakhunter.pipeline import judge_dir

        with demo_session() as (path, info):
            say(
                f"no live demo ({why}); analysing a real session recorded from the zoo "
                f"({info}) instead"
            )
            judged = judge_dir(path, analyze_options(args))
            return emit_verdict(judged.verdict, args, judged)


def say(text: str) -> None:
    """Print a progress line on stderr."""
    sys.stderr.write(f"leakhunter demo: {text}\n")
    sys.stderr.flush()
