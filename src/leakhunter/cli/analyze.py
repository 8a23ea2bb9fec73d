"""`leakhunter analyze SESSION_DIR`: the watch verdict, offline, from a saved session."""

from __future__ import annotations

import argparse
from typing import ClassVar

from leakhunter.cli._verdict_out import add_verdict_options, analyze_options, emit_verdict

__all__ = ["AnalyzeCommand"]


class AnalyzeCommand:
    """Judge a session folder written by watch (even a partial one)."""

    name: ClassVar[str] = "analyze"
    help: ClassVar[str] = "judge a saved session folder (same verdict as watch, offline)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare SESSION_DIR and the verdict options."""
        parser.add_argument("session", metavar="SESSION_DIR", help="folder written by watch --out")
        add_verdict_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Analyse the session and print the verdict."""
        from leakhunter.pipeline import judge_dir

        judged = judge_dir(args.session, analyze_options(args))
        return emit_verdict(judged.verdict, args, judged)
