"""The agent's own pprof writer: what it writes decodes to what the model-based encoder writes."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from leakhunter.agent.heap import Site
from leakhunter.agent.profiles import goroutine_profile, heap_profile
from leakhunter.agent.routines import Routine
from leakhunter.formats.pprof import decode, encode
from leakhunter.model import Function, Line, Location, Sample, ValueType, make_profile
from leakhunter.model.goroutine import Frame

HEAP_TYPES = tuple(
    ValueType(t, u)
    for t, u in (
        ("alloc_objects", "count"),
        ("alloc_space", "bytes"),
        ("inuse_objects", "count"),
        ("inuse_space", "bytes"),
    )
)


def _reference(
    stacks: list[tuple[Frame, ...]], values: list[tuple[int, ...]], types: tuple[ValueType, ...]
) -> bytes:
    """Encode samples the way the agent did before it had its own writer (model + protobuf)."""
    functions: dict[tuple[str, str], Function] = {}
    locations: dict[tuple[str, str, int], Location] = {}

    def loc(f: Frame) -> int:
        key = (f.function, f.file, f.line)
        if key not in locations:
            fn = functions.setdefault(
                (f.function, f.file), Function(len(functions) + 1, f.function, f.function, f.file)
            )
            locations[key] = Location(len(locations) + 1, lines=(Line(fn.id, f.line),))
        return locations[key].id

    samples = [
        Sample(tuple(loc(f) for f in (frames or (Frame("<unknown>"),))), v)
        for frames, v in zip(stacks, values, strict=True)
    ]
    period_type = types[-1] if len(types) == 1 else ValueType("space", "bytes")
    profile = make_profile(
        types,
        samples,
        functions=tuple(functions.values()),
        locations=tuple(locations.values()),
        period_type=period_type,
        period=1,
        time_nanos=123,
        duration_nanos=7 if len(types) > 1 else 0,
    )
    return encode(profile)


frames = st.builds(
    Frame,
    st.sampled_from(["app.handle", "app.Cache.put", "builtins.dict", "é.ünïcode", ""]),
    st.sampled_from(["/srv/app.py", "", "/x/y.py"]),
    st.integers(0, 5000),
)
sites = st.lists(
    st.builds(
        Site,
        st.lists(frames, max_size=4).map(tuple),
        st.integers(0, 1 << 40),
        st.integers(-(1 << 20), 1 << 50),
    ),
    max_size=12,
)


@given(sites)
def test_heap_profile_decodes_like_the_model_encoder(ss: list[Site]) -> None:
    kept = [s for s in ss if s.objects or s.bytes]
    expected = _reference(
        [s.frames for s in kept],
        [(s.objects, s.bytes, s.objects, s.bytes) for s in kept],
        HEAP_TYPES,
    )
    assert decode(heap_profile(ss, 7, 123)) == decode(expected)


def test_goroutine_profile_counts_routines_per_stack() -> None:
    a = (Frame("app.worker", "/srv/app.py", 10), Frame("app.main", "/srv/app.py", 3))
    b = (Frame("asyncio.queues.Queue.get", "/q.py", 1),)
    routines = [Routine(i, "task", f"t{i}", "queue get", st) for i, st in enumerate([a, b, a, a])]
    got = decode(goroutine_profile(routines))
    assert got.num_samples == 2
    assert sorted(got.values.ravel().tolist()) == [1, 3]


def test_the_agent_imports_neither_numpy_nor_protobuf() -> None:
    code = (
        "import sys, leakhunter.agent; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'google')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
