"""The one exception hierarchy; the CLI maps each class to an exit code."""

from __future__ import annotations

__all__ = [
    "FormatError",
    "LeakhunterError",
    "OutputError",
    "RuleError",
    "TargetError",
    "UsageError",
]


class LeakhunterError(Exception):
    """Base of every error leakhunter reports as one clear line."""

    exit_code = 2


class FormatError(LeakhunterError):
    """Input that is not a readable profile or dump (truncated, corrupt, too big)."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class TargetError(LeakhunterError):
    """A target that cannot be reached or answers with an error."""


class UsageError(LeakhunterError):
    """Bad command-line options or arguments."""


class RuleError(LeakhunterError):
    """Rule files that cannot be used: TOML syntax or schema errors, as file:line lines."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        head = problems[0] if problems else "invalid rules"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{head}{more}")
        self.problems = problems


class OutputError(LeakhunterError):
    """A report or output that cannot be written (disk full, closed pipe, permissions)."""
