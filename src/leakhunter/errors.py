"""The one exception hierarchy; the CLI maps each class to an exit code."""

from __future__ import annotations

__all__ = ["FormatError", "LeakhunterError", "TargetError", "UsageError"]


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
