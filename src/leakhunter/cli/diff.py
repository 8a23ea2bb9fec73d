"""`leakhunter diff BASE NEW`: what grew between two profiles (pprof -diff_base)."""

from __future__ import annotations

import argparse
from typing import ClassVar

from leakhunter.cli._profile_args import add_top_options, run_top
from leakhunter.errors import UsageError
from leakhunter.formats import pprof
from leakhunter.ops.merge import diff

__all__ = ["DiffCommand"]


class DiffCommand:
    """Print NEW minus BASE per function, like go tool pprof -diff_base BASE NEW."""

    name: ClassVar[str] = "diff"
    help: ClassVar[str] = "compare two profiles: NEW minus BASE (like pprof -diff_base)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare BASE, NEW and the shared top options."""
        parser.add_argument("base", metavar="BASE", help="the earlier profile")
        parser.add_argument("new", metavar="NEW", help="the later profile")
        add_top_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Read both profiles, diff them and print the top table."""
        # top never looks at labels; diff() still marks the base samples
        base = pprof.read(args.base, labels=False)
        new = pprof.read(args.new, labels=False)
        try:
            merged = diff(base, new)
        except ValueError as exc:
            raise UsageError(f"cannot diff {args.base} and {args.new}: {exc}") from None
        return run_top(merged, args, f"Diff: {args.new} - {args.base}")
