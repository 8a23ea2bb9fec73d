"""Entry point: parse the command line, run one command, map errors to exit codes.

Every LeakhunterError becomes one line on stderr and its exit code; Ctrl-C
becomes exit 130. Tracebacks are reserved for real bugs (and LEAKHUNTER_DEBUG=1).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from leakhunter import __version__
from leakhunter.cli._batch import BATCH_COMMANDS, exit_now, tune_for_batch
from leakhunter.cli.base import EXIT_ERROR, Command
from leakhunter.errors import LeakhunterError, OutputError

__all__ = ["main"]


#: (name, module, class) of every command, one line each. A command's module is
#: imported only when that command runs (all of them for --help or a typo), so
#: `leakhunter top` does not pay for the HTTP and terminal libraries of `watch`.
_REGISTRY: tuple[tuple[str, str, str], ...] = (
    ("watch", "leakhunter.cli.watch", "WatchCommand"),
    ("check", "leakhunter.cli.check", "CheckCommand"),
    ("analyze", "leakhunter.cli.analyze", "AnalyzeCommand"),
    ("report", "leakhunter.cli.report", "ReportCommand"),
    ("compare", "leakhunter.cli.compare", "CompareCommand"),
    ("demo", "leakhunter.cli.demo", "DemoCommand"),
    ("top", "leakhunter.cli.top", "TopCommand"),
    ("diff", "leakhunter.cli.diff", "DiffCommand"),
    ("goroutines", "leakhunter.cli.goroutines", "GoroutinesCommand"),
    ("rules", "leakhunter.cli.rules", "RulesCommand"),
    ("serve", "leakhunter.cli.serve", "ServeCommand"),
    ("status", "leakhunter.cli.status", "StatusCommand"),
    ("mixin", "leakhunter.cli.mixin", "MixinCommand"),
)


def _requested(argv: Sequence[str] | None) -> str | None:
    """Return the command named on the command line, or None (help, typo, none)."""
    names = {name for name, _, _ in _REGISTRY}
    for arg in sys.argv[1:] if argv is None else argv:
        if arg == "--":
            break
        if not arg.startswith("-"):
            return arg if arg in names else None
    return None


def _commands(argv: Sequence[str] | None = None) -> list[Command]:
    """Instantiate the requested command, or every command when none is named."""
    wanted = _requested(argv)
    commands: list[Command] = []
    for name, module_name, class_name in _REGISTRY:
        if wanted is not None and name != wanted:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # pragma: no cover - during bring-up only
            if exc.name == module_name:
                continue
            raise
        commands.append(getattr(module, class_name)())
    return commands


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, sized without importing shutil (and with it bz2 and lzma).

    argparse builds a formatter for every option it declares, and the stock
    one imports shutil for the terminal's width: ~5 ms of each `leakhunter top`.
    """

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size gives it: $COLUMNS, the tty, or 80."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
    except (OSError, ValueError):
        return 80


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

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
    batch = argv is None and _requested(argv) in BATCH_COMMANDS
    if batch:
        tune_for_batch()  # a real process about to read files and exit, not a caller's
    code = _run(argv)
    if batch:
        exit_now(code)
    return code


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser(_commands(argv))
    args = parser.parse_args(argv)
    command: Command | None = getattr(args, "_command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        code = command.run(args)
        _flush_stdout()  # here, not at exit: a lost report must not exit 0 or 1
        return code
    except LeakhunterError as exc:
        print(f"leakhunter: {exc}", file=sys.stderr)
        if isinstance(exc, OutputError):
            _drop_stdout()
        return exc.exit_code
    except KeyboardInterrupt:
        print("leakhunter: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in _WRITE_ERRORS:
            raise  # not an output problem: a bug, keep its traceback
        # Standard output failed (disk full, closed pipe, even `| head`): the
        # output is lost, so the exit code cannot say "no leak" or "leak".
        print(f"leakhunter: cannot write to standard output: {exc.strerror}", file=sys.stderr)
        _drop_stdout()
        return EXIT_ERROR


_WRITE_ERRORS = frozenset(
    {errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EBADF}
)


def _flush_stdout() -> None:
    if sys.stdout is not None:
        sys.stdout.flush()


def _drop_stdout() -> None:
    """Point stdout at /dev/null so flushing what is buffered at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
