"""Properties: any bytes give a dump or one FormatError; grouping is argument-blind; fuzzing."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_goroutine_text import check, fuzz
from leakhunter.formats.goroutine_text import parse_text

LINES = st.sampled_from(
    [
        "goroutine 1 [running]:",
        "goroutine 23 [chan receive, 5 minutes]:",
        "goroutine 9 gp=0xc000001 m=nil [select (no cases) (leaked)]:",
        'goroutine 4 [sleep labels:{"a": "b"}]:',
        "goroutine 0 gp=0x1 m=0 mp=0x2 [idle]:",
        "goroutine profile: total 3",
        "3 @ 0x1 0x2",
        '# labels: {"k":"v"}',
        "#\t0x1\tmain.f+0x1\t/a.go:3",
        "main.worker(0xc000012000, 0x1)",
        "main.(*T).m(...)",
        "\t/app/main.go:10 +0x2a",
        "\t/app/main.go:10",
        "\tC:/app/main.go:7 +0x1 fp=0x1 sp=0x2 pc=0x3",
        "created by main.main in goroutine 1",
        "created by main.main",
        "...additional frames elided...",
        "...4 frames elided...",
        "[originating from goroutine 2]:",
        "panic: boom",
        "rax    0x0",
        "exit status 2",
        "",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_give_a_dump_or_a_format_error(data: bytes) -> None:
    check(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(LINES, st.text(max_size=40)), max_size=60))
def test_dump_shaped_text_gives_a_dump_or_a_format_error(lines: list[str]) -> None:
    check("\n".join(lines).encode("utf-8", "surrogatepass"))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**6),
            st.integers(min_value=0, max_value=2**64 - 1),
            st.sampled_from(["chan receive", "select", "sync.Mutex.Lock"]),
        ),
        min_size=1,
        max_size=30,
        unique_by=lambda t: t[0],
    )
)
def test_grouping_ignores_argument_values(members: list[tuple[int, int, str]]) -> None:
    text = "".join(
        f"goroutine {gid} [{state}]:\nmain.w(0x{arg:x}, {{0x{arg:x}, 0x3}})\n\t/m.go:4 +0x1\n\n"
        for gid, arg, state in members
    )
    dump = parse_text(text.encode())
    states = {state for _, _, state in members}
    assert len(dump.groups) == len(states)
    assert dump.total == len(members)


def test_mutation_fuzz_of_real_dumps_finds_no_crash() -> None:
    # A fixed number of mutations, not a time budget: the same inputs on every machine,
    # however loaded (fuzz_goroutine_text.py by hand is the open-ended, timed run).
    assert fuzz(seconds=math.inf, seed=20261123, max_iterations=3000) == 3000
