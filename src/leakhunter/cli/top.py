"""`leakhunter top PROFILE`: the heaviest functions, lines or stacks of one profile."""

from __future__ import annotations

import argparse
from typing import ClassVar

from leakhunter.cli._profile_args import add_top_options, run_top
from leakhunter.formats import pprof

__all__ = ["TopCommand"]


class TopCommand:
    """Print flat/cum per function, like go tool pprof -top."""

    name: ClassVar[str] = "top"
    help: ClassVar[str] = "show the heaviest functions/lines of a pprof profile (like pprof -top)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare PROFILE and the shared top options."""
        parser.add_argument("profile", metavar="PROFILE", help="pprof file (gzip or raw)")
        add_top_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Read the profile and print its top table."""
        return run_top(pprof.read(args.profile, labels=False), args, f"File: {args.profile}")
