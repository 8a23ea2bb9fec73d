"""Immutable data model: profiles, stacks, goroutine dumps.

The profile half needs numpy; it is imported on first use so commands that only
read goroutine dumps start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leakhunter.model.goroutine import (
    Frame,
    Goroutine,
    GoroutineDump,
    GoroutineGroup,
    WaitClass,
    classify_state,
    group_goroutines,
)

if TYPE_CHECKING:
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

_PROFILE_NAMES = {
    "Function",
    "Label",
    "Line",
    "Location",
    "Mapping",
    "Profile",
    "Sample",
    "Stacks",
    "ValueType",
    "make_profile",
}


def __getattr__(name: str) -> Any:
    if name in _PROFILE_NAMES:
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
