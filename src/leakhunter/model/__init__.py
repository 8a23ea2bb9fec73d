"""Immutable data model: profiles, stacks, goroutine dumps."""

from __future__ import annotations

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
