"""Entry point: parse the command line, run one command, map errors to exit codes.

Every LeakhunterError becomes one line on stderr and its exit code; Ctrl-C
becomes exit 130. Tracebacks are reserved for real bugs (and LEAKHUNTER_DEBUG=1).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from leakhunter import __version__
from leakhunter.cli.base import EXIT_ERROR, Command
from leakhunter.errors import LeakhunterError

__all__ = ["main"]


def _commands() -> list[Command]:
    # Imported here so `leakhunter --version` stays fast. One line per command.
    from leakhunter.cli.analyze import AnalyzeCommand
    from leakhunter.cli.demo import DemoCommand
    from leakhunter.cli.diff import DiffCommand
    from leakhunter.cli.top import TopCommand
    from leakhunter.cli.watch import WatchCommand

    commands: list[Command] = [
        WatchCommand(),
        AnalyzeCommand(),
        DemoCommand(),
        TopCommand(),
        DiffCommand(),
    ]
    try:
        from leakhunter.cli.goroutines import GoroutinesCommand  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - during bring-up only
        pass
    else:
        commands.append(GoroutinesCommand())
    return commands


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"leakhunter: error: {message}\n")


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per command."""
    parser = _Parser(
        prog="leakhunter",
        description="Find memory and goroutine leaks in running services.",
    )
    parser.add_argument("--version", action="version", version=f"leakhunter {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in commands:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_command=cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the leakhunter command line; return the process exit code."""
    parser = build_parser(_commands())
    args = parser.parse_args(argv)
    command: Command | None = getattr(args, "_command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return command.run(args)
    except LeakhunterError as exc:
        print(f"leakhunter: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("leakhunter: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
