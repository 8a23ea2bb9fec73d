"""`leakhunter goroutines SOURCE`: group a goroutine dump and flag suspicious groups."""

from __future__ import annotations

import argparse
import sys
from typing import ClassVar

from leakhunter.cli.base import EXIT_OK
from leakhunter.cli.parse import count, duration
from leakhunter.errors import UsageError
from leakhunter.safe_numbers import MAX_INT64
from leakhunter.urls import redact

__all__ = ["GoroutinesCommand"]


_positive = count(1, MAX_INT64)


class GoroutinesCommand:
    """Read a dump (file, stdin or URL), group it by stack and state, flag suspects."""

    name: ClassVar[str] = "goroutines"
    help: ClassVar[str] = (
        "group a goroutine dump (debug=2/debug=1 text, panic or SIGQUIT output, "
        "protobuf, or a live URL) by stack and state; flag suspicious groups"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare SOURCE, --json, -n and --timeout."""
        parser.add_argument(
            "source",
            metavar="SOURCE",
            help="dump file (gzip ok), '-' for stdin, a URL, or host:port "
            "(fetches /debug/pprof/goroutine?debug=2)",
        )
        parser.add_argument(
            "--json", action="store_true", help="print leakhunter.goroutines/1 JSON"
        )
        parser.add_argument(
            "-n",
            "--top",
            type=_positive,
            default=None,
            metavar="N",
            help="show the N biggest groups (default: 10 as text, all as JSON)",
        )
        parser.add_argument(
            "--timeout",
            type=duration,
            default=30.0,
            metavar="SECONDS",
            help="HTTP timeout for URL sources (default 30)",
        )

    def run(self, args: argparse.Namespace) -> int:
        """Read, group, rank and print the dump."""
        # Imported here: `leakhunter --help` must not pay for them.
        from leakhunter.analyze.goroutine_suspects import rank_groups
        from leakhunter.collect.dump_source import read_dump
        from leakhunter.report.goroutines import render_goroutines_json, render_goroutines_text

        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        dump = read_dump(args.source, timeout=args.timeout, keep_goroutines=False)
        shown = redact(args.source)  # a URL's password is used, never shown
        ranked = rank_groups(dump)
        _warn_skipped(dump.skipped_lines, dump.skipped_blocks, shown)
        if args.json:
            if dump.truncated:
                print(
                    f"leakhunter: warning: {shown}: the dump is truncated; "
                    "counts cover its complete part only",
                    file=sys.stderr,
                )
            sys.stdout.write(render_goroutines_json(dump, ranked, args.top) + "\n")
        else:
            limit = 10 if args.top is None else args.top
            sys.stdout.write(render_goroutines_text(dump, ranked, limit, shown))
        return EXIT_OK


def _warn_skipped(lines: int, blocks: int, source: str) -> None:
    """Say on stderr what the parser skipped: nothing is dropped silently."""
    parts = []
    if blocks:
        parts.append(f"{blocks} unreadable goroutine block(s)")
    if lines:
        parts.append(f"{lines} line(s) outside goroutine blocks")
    if parts:
        print(
            f"leakhunter: warning: {source}: skipped {' and '.join(parts)}",
            file=sys.stderr,
        )
