"""`leakhunter analyze PATH`: the watch verdict, offline, from a saved session or profile folder."""

from __future__ import annotations

import argparse
from typing import ClassVar

from leakhunter.cli._verdict_out import add_verdict_options, analyze_options, emit_verdict

__all__ = ["AnalyzeCommand"]


class AnalyzeCommand:
    """Judge a session folder written by watch (even a partial one), or a profile folder."""

    name: ClassVar[str] = "analyze"
    help: ClassVar[str] = (
        "judge a saved session folder, or a folder of heap/goroutine profiles an "
        "application wrote itself (same verdict as watch, offline)"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare PATH (a session or profile folder) and the verdict options."""
        parser.add_argument(
            "session",
            metavar="PATH",
            help="folder written by watch --out, or a folder of pprof heap/goroutine "
            'profiles (WriteHeapProfile, Lookup("goroutine").WriteTo, go test -memprofile)',
        )
        add_verdict_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Analyse the session and print the verdict."""
        from leakhunter.pipeline import judge_path

        judged = judge_path(args.session, analyze_options(args))
        return emit_verdict(judged.verdict, args, judged)
