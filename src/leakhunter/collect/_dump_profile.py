"""Goroutine counts of a text dump as a goroutine?debug=0 profile, for the analyser.

The analyser counts goroutine groups from the protobuf profile; an
application that only writes text dumps (``WriteTo(f, 1)`` or ``2``) is
judged the same way once its groups are written as one sample each.
"""

from __future__ import annotations

from leakhunter.model import Function, Line, Location, Profile, Sample, ValueType, make_profile
from leakhunter.model.goroutine import Frame, GoroutineDump

__all__ = ["dump_profile"]


def dump_profile(dump: GoroutineDump) -> Profile:
    """Return a goroutine count profile with one sample per group of the dump."""
    functions: dict[tuple[str, str], Function] = {}
    locations: dict[Frame, Location] = {}

    def location(frame: Frame) -> int:
        loc = locations.get(frame)
        if loc is None:
            fn = functions.setdefault(
                (frame.function, frame.file),
                Function(len(functions) + 1, frame.function, frame.function, frame.file),
            )
            loc = locations[frame] = Location(len(locations) + 1, lines=(Line(fn.id, frame.line),))
        return loc.id

    samples = [
        Sample(tuple(location(f) for f in g.frames) or (location(Frame("<unknown>")),), (g.count,))
        for g in dump.groups
    ]
    return make_profile(
        (ValueType("goroutine", "count"),),
        samples,
        functions=tuple(functions.values()),
        locations=tuple(locations.values()),
        period_type=ValueType("goroutine", "count"),
        period=1,
    )
