"""leakhunter: find memory and goroutine leaks in running services."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
