"""The Command seam: a command declares its options and runs against parsed args."""

from __future__ import annotations

import argparse
from typing import ClassVar, Protocol

__all__ = ["Command", "EXIT_ERROR", "EXIT_INCONCLUSIVE", "EXIT_LEAK", "EXIT_OK"]

EXIT_OK = 0
EXIT_LEAK = 1
EXIT_ERROR = 2
EXIT_INCONCLUSIVE = 3


class Command(Protocol):
    """A CLI command; its name and help come from the class."""

    name: ClassVar[str]
    help: ClassVar[str]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's options."""

    def run(self, args: argparse.Namespace) -> int:
        """Run the command and return its exit code."""
