"""leakhunter's compiled kernels (_native.c), when they were built and are wanted.

They are an optional extension (setup.py): an install without a C compiler
has none and every caller takes its numpy path, which gives the same answers
(tests/test_native.py runs both). LEAKHUNTER_NATIVE=0 asks for the numpy paths
on purpose, for comparisons and for ruling the kernels out when debugging.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["kernels"]

_module: ModuleType | None
try:
    from leakhunter import _native as _module
except ImportError:  # pragma: no cover - installs without a C compiler
    _module = None


def kernels() -> ModuleType | None:
    """The compiled kernels module, or None (not built, or LEAKHUNTER_NATIVE=0)."""
    if _module is None or os.environ.get("LEAKHUNTER_NATIVE", "1") == "0":
        return None
    return _module
