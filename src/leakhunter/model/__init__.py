"""Immutable data model: profiles, stacks, goroutine dumps.

Each half is imported on first use: the profile half needs numpy, so commands
that only read goroutine dumps start fast, and `top` does not pay for the
goroutine half (~15 ms).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakhunter.model.goroutine import (
        Frame,
        Goroutine,
        GoroutineDump,
        GoroutineGroup,
        WaitClass,
        classify_state,
        group_goroutines,
    )
    from leakhunter.model.profile import (
        Function,
        Label,
        Line,
        Location,
        Mapping,
        Profile,
        Sample,
        Stacks,
        ValueType,
        make_profile,
    )

_GOROUTINE_NAMES = {
    "Frame",
    "Goroutine",
    "GoroutineDump",
    "GoroutineGroup",
    "WaitClass",
    "classify_state",
    "group_goroutines",
}


def __getattr__(name: str) -> Any:
    if name in _GOROUTINE_NAMES:
        from leakhunter.model import goroutine

        return getattr(goroutine, name)
    if name in __all__:  # the rest is the profile half's
        from leakhunter.model import profile

        return getattr(profile, name)
    raise AttributeError(f"module 'leakhunter.model' has no attribute {name!r}")


__all__ = [
    "Frame",
    "Function",
    "Goroutine",
    "GoroutineDump",
    "GoroutineGroup",
    "Label",
    "Line",
    "Location",
    "Mapping",
    "Profile",
    "Sample",
    "Stacks",
    "ValueType",
    "WaitClass",
    "classify_state",
    "group_goroutines",
    "make_profile",
]
