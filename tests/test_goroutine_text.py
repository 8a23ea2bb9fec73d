"""debug=2 and crash-output parsing: real fixtures first, then hand-written edge cases."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from leakhunter.errors import FormatError
from leakhunter.formats.goroutine_lines import parse_header_tail, parse_stack
from leakhunter.formats.goroutine_text import load_dump, parse_text, sniff
from leakhunter.model.goroutine import Frame, GoroutineDump, WaitClass, group_goroutines

DATA = Path(__file__).parent / "data" / "goroutines"


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def by_top(dump: GoroutineDump, function: str, state: str | None = None):  # type: ignore[no-untyped-def]
    found = [
        g
        for g in dump.groups
        if any(f.function == function for f in g.frames) and (state is None or g.state == state)
    ]
    assert found, f"no group through {function} ({state})"
    return found[0]


# --- real dumps ---------------------------------------------------------------------------


def test_states_debug2_has_every_wait_state() -> None:
    dump = load_dump(fixture("states_debug2.txt"), "states")
    assert dump.format == "debug=2" and not dump.truncated and dump.message == ""
    assert dump.total == 35 == len(dump.goroutines)
    states = {g.state for g in dump.groups}
    assert {
        "chan receive",
        "chan send",
        "select",
        "select (no cases)",
        "chan receive (nil chan)",
        "sync.Mutex.Lock",
        "sync.RWMutex.RLock",
        "sync.RWMutex.Lock",
        "sync.WaitGroup.Wait",
        "sync.Cond.Wait",
        "sleep",
        "IO wait",
        "syscall",
        "running",
    } <= states


def test_states_debug2_frames_files_lines_and_creators() -> None:
    dump = load_dump(fixture("states_debug2.txt"), "states")
    recv = by_top(dump, "main.recvWorker")
    assert recv.count == 3 and recv.state == "chan receive"
    assert recv.state_class is WaitClass.CHANNEL
    assert recv.frames[0] == Frame("main.recvWorker", recv.frames[0].file, 57)
    assert recv.frames[0].file.endswith("tests/goprogs/states/main.go")
    assert recv.created_by is not None and recv.created_by.function == "main.start"
    assert recv.creator_id == 1 and len(recv.ids) == 3
    method = by_top(dump, "main.(*server).loop")
    assert method.count == 2
    generic = by_top(dump, "main.receive[...]")  # inlined generic: "main.receive[...](...)"
    assert generic.frames[1].function == "main.genericWorker"
    mutex = by_top(dump, "sync.(*Mutex).Lock")
    assert mutex.state == "sync.Mutex.Lock" and mutex.count == 2


def test_locked_to_thread_and_deep_stacks_are_elided() -> None:
    dump = load_dump(fixture("states_debug2.txt"), "states")
    locked = [g for g in dump.goroutines if g.locked_to_thread]
    assert [g.frames[0].function for g in locked] == ["main.lockedWorker"]
    deep = [g for g in dump.goroutines if g.elided]
    assert len(deep) == 1 and deep[0].frames[0].function == "main.recurse"
    assert 90 <= len(deep[0].frames) <= 110  # 50 inner + 50 outer, the middle elided


def test_minutes_and_leaked_marks() -> None:
    dump = load_dump(fixture("states_minutes_debug2.txt"), "minutes")
    recv = by_top(dump, "main.recvWorker")
    assert (recv.wait_minutes_min, recv.wait_minutes_max) == (2, 2)
    leaked = [g for g in dump.groups if g.leaked]
    assert sum(g.leaked for g in leaked) == 4
    assert {g.state for g in leaked} == {
        "chan receive",
        "select (no cases)",
        "chan receive (nil chan)",
    }
    running = by_top(dump, "runtime/pprof.writeGoroutineStacks")
    assert running.wait_minutes_max is None


def test_goroutineleak_debug2_marks_only_the_leaked() -> None:
    dump = load_dump(fixture("leak_debug2.txt"), "leak")
    assert dump.total == 35
    assert sum(g.leaked for g in dump.groups) == 4
    loop = by_top(dump, "main.(*server).loop")
    assert loop.leaked == loop.count == 2 and loop.state == "chan receive"
    assert all(" (leaked)" not in g.state for g in dump.groups)


def test_labels_in_headers_go127_format() -> None:
    dump = load_dump(fixture("states_labels_debug2.txt"), "labels")
    labelled = [g for g in dump.goroutines if g.labels]
    assert sorted(g.labels for g in labelled) == [
        (("tenant", "acme"), ("worker", "labelled")),
        (("tenant", "globex"), ("worker", "labelled")),
    ]
    groups = [g for g in dump.groups if g.frames[0].function == "main.labelled.func1"]
    assert sorted(g.labels for g in groups) == sorted(g.labels for g in labelled)
    assert {g.state for g in groups} == {"chan receive"}


def test_a_group_keeps_the_labels_its_members_share() -> None:
    text = b"".join(
        b'goroutine %d [select labels:{"job": "%s", "svc": "api"}]:\n'
        b"main.loop(0x%x)\n\t/app/main.go:5 +0x1\n\n" % (i, job, i)
        for i, job in ((1, b"a"), (2, b"b"), (3, b"a"))
    )
    (group,) = parse_text(text).groups
    assert group.count == 3 and group.labels == (("svc", "api"),)


@pytest.mark.parametrize(
    ("name", "message", "total"),
    [
        ("crash_panic.txt", "panic: first panic", 5),
        ("crash_segv.txt", "panic: runtime error: invalid memory address", 5),
        ("crash_deadlock.txt", "fatal error: all goroutines are asleep - deadlock!", 5),
        ("crash_deep.txt", "panic: bottom reached", 5),
        ("crash_throw_system.txt", "fatal error: sync: unlock of unlocked mutex", 10),
        ("sigquit.txt", "SIGQUIT: quit", 10),
        ("sigquit_crash.txt", "SIGQUIT: quit", 10),
    ],
)
def test_crash_outputs(name: str, message: str, total: int) -> None:
    dump = load_dump(fixture(name), name)
    assert dump.format == "crash" and not dump.truncated
    assert dump.message.startswith(message)
    assert dump.total == total
    ids = [g.id for g in dump.goroutines]
    assert len(ids) == len(set(ids)) and 0 not in ids  # no thread g0s, no repeats
    parked = by_top(dump, "main.park.func1")
    assert parked.count == 3 and parked.state == "chan receive"
    for g in dump.goroutines:  # register dumps and "exit status" never become frames
        assert all(not f.function.startswith(("rax", "rip", "exit status")) for f in g.frames)


def test_system_traceback_frames_drop_fp_sp_pc() -> None:
    dump = load_dump(fixture("crash_throw_system.txt"), "sys")
    g1 = next(g for g in dump.goroutines if g.id == 1)
    assert g1.state == "running"
    assert [f.function for f in g1.frames[:3]] == [
        "runtime.fatal",
        "internal/sync.fatal",
        "internal/sync.(*Mutex).unlockSlow",
    ]
    assert g1.frames[0].file.endswith("runtime/panic.go") and g1.frames[0].line > 0
    assert g1.frames[-1].function == "runtime.goexit"


def test_ancestor_tracebacks_are_not_part_of_the_stack() -> None:
    # GODEBUG=tracebackancestors=3 appends "[originating from goroutine 1]:" stacks.
    dump = load_dump(fixture("crash_ancestors.txt"), "ancestors")
    parked = by_top(dump, "main.park.func1")
    assert parked.count == 3 and len(parked.frames) == 1
    assert parked.created_by is not None and parked.created_by.function == "main.park"
    assert parked.creator_id == 1
    assert dump.groups == group_goroutines(dump.goroutines)


def test_deep_panic_keeps_both_ends_of_the_stack() -> None:
    dump = load_dump(fixture("crash_deep.txt"), "deep")
    g1 = next(g for g in dump.goroutines if g.id == 1)
    assert g1.elided and g1.frames[0].function == "main.dive"
    assert g1.frames[-1].function == "main.main"


def test_old_go_created_by_without_goroutine_and_additional_frames_elided() -> None:
    dump = load_dump(fixture("handmade_go1.20.txt"), "old")
    workers = by_top(dump, "main.worker")
    assert workers.count == 3 and workers.created_by == Frame(
        "main.startWorkers", "/home/dev/app/worker.go", 15
    )
    assert workers.creator_id is None and (workers.wait_minutes_min, workers.wait_minutes_max) == (
        7,
        7,
    )
    deep = by_top(dump, "main.descend")
    assert len(deep.frames) == 100
    assert next(g for g in dump.goroutines if g.id == 22).elided
    sema = by_top(dump, "main.(*cache).get")
    assert sema.state == "semacquire" and sema.state_class is WaitClass.SYNC


def test_windows_paths_and_crlf() -> None:
    dump = load_dump(fixture("handmade_windows_crlf.txt"), "win")
    workers = by_top(dump, "main.worker")
    assert workers.count == 2
    assert workers.frames[0] == Frame("main.worker", "C:/Users/dev/app/main.go", 12)


def test_header_variants() -> None:
    dump = load_dump(fixture("handmade_header_variants.txt"), "variants")
    by_id = {g.id: g for g in dump.goroutines}
    assert by_id[3].state == "select"  # (scan) is a GC flag of the moment
    assert by_id[4].state == "chan receive (durable)"
    assert by_id[4].state_class is WaitClass.CHANNEL
    assert by_id[5].wait_minutes == 3
    assert by_id[6].state == "quantum entanglement wait"  # unknown reasons kept verbatim
    assert by_id[6].state_class is WaitClass.OTHER and by_id[6].wait_minutes == 12
    assert by_id[7].locked_to_thread and by_id[7].wait_minutes == 1
    assert by_id[7].labels == (("job", 'a"b'), ("tenant", "\u03a3\x1b]"))
    assert by_id[8].state == "running" and by_id[8].frames == ()
    assert by_id[8].created_by is not None and by_id[8].creator_id == 1
    durable = next(g for g in dump.groups if g.state == "chan receive (durable)")
    assert durable.count == 2 and (durable.wait_minutes_min, durable.wait_minutes_max) == (0, 3)


# --- grouping ----------------------------------------------------------------------------

TWO_ARGS = b"""goroutine 5 [chan receive]:
main.worker(0xc000012000, 0x1)
\t/app/main.go:10 +0x2a
created by main.main in goroutine 1
\t/app/main.go:20 +0x3b

goroutine 6 [chan receive, 4 minutes]:
main.worker(0xc0000ff000, 0x2)
\t/app/main.go:10 +0x2a
created by main.main in goroutine 3
\t/app/main.go:20 +0x3b

goroutine 7 [chan receive, 9 minutes]:
main.worker(...)
\t/app/main.go:10
created by main.main in goroutine 1
\t/app/main.go:20 +0x3b

goroutine 8 [chan send]:
main.worker(0xc0000ff000, 0x2)
\t/app/main.go:10 +0x2a
"""


def test_grouping_ignores_arguments_offsets_and_creator_ids() -> None:
    dump = parse_text(TWO_ARGS)
    assert [(g.count, g.state) for g in dump.groups] == [(3, "chan receive"), (1, "chan send")]
    recv = dump.groups[0]
    assert recv.ids == (5, 6, 7)
    assert (recv.wait_minutes_min, recv.wait_minutes_max) == (0, 9)
    assert recv.creator_id is None  # members were created by goroutines 1 and 3
    assert [g.creator_id for g in dump.goroutines] == [1, 3, 1, None]


@pytest.mark.parametrize(
    "name",
    [p.name for p in sorted(DATA.iterdir()) if p.suffix == ".txt" and "debug1" not in p.name],
)
def test_fast_grouping_matches_the_model(name: str) -> None:
    dump = load_dump(fixture(name), name)
    assert dump.groups == group_goroutines(dump.goroutines)
    lean = load_dump(fixture(name), name, keep_goroutines=False)
    assert lean.groups == dump.groups and lean.goroutines == ()


def test_gzip_input_and_sniffing() -> None:
    raw = fixture("states_debug2.txt")
    assert load_dump(gzip.compress(raw), "gz").groups == load_dump(raw, "raw").groups
    assert sniff(raw) == "debug=2"
    assert sniff(fixture("crash_panic.txt")) == "crash"
    assert sniff(fixture("states_debug1.txt")) == "debug=1"
    assert sniff(gzip.decompress(fixture("states_debug0.pb.gz"))) == "debug=0"
    assert sniff(b"hello") == ""


# --- line parsers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (b"[running]:", ("running", None, False, False, ())),
        (b"[chan receive, 12 minutes, locked to thread]:", ("chan receive", 12, True, False, ())),
        (b"[chan send (leaked)]:", ("chan send", None, False, True, ())),
        (b"[select (no cases) (leaked), 1 minutes]:", ("select (no cases)", 1, False, True, ())),
        (b"[sync.Mutex.Lock]:", ("sync.Mutex.Lock", None, False, False, ())),
        (b"[select (durable), synctest bubble 7]:", ("select (durable)", None, False, False, ())),
        (
            b'[chan receive, 3 minutes labels:{"a": "x, y]", "b": "2"}]:',
            ("chan receive", 3, False, False, (("a", "x, y]"), ("b", "2"))),
        ),
        (b"[GC worker (idle)]:", ("GC worker (idle)", None, False, False, ())),
        (b"[chan receive", None),
        (b"running]:", None),
    ],
)
def test_header_tails(tail: bytes, expected: object) -> None:
    assert parse_header_tail(tail) == expected


def test_parse_stack_lines() -> None:
    text = (
        "main.(*T).m(0xc0001, {0x4b2f40, 0x5})\n"
        "\t/a b/main.go:7 +0x1d\n"
        "main.inlined(...)\n"
        "\t/a b/main.go:9\n"
        "...12 frames elided...\n"
        "panic({0x4ad660?, 0x4d3a50?})\n"
        "\t/go/src/runtime/panic.go:860 +0x13a fp=0x1 sp=0x2 pc=0x3\n"
        "rax    0x0\n"
        "created by main.main in goroutine 1\n"
        "\t/a b/main.go:3 +0x25\n"
    )
    frames, created_by, elided = parse_stack(text)
    assert frames == (
        Frame("main.(*T).m", "/a b/main.go", 7),
        Frame("main.inlined", "/a b/main.go", 9),
        Frame("panic", "/go/src/runtime/panic.go", 860),
    )
    assert created_by == Frame("main.main", "/a b/main.go", 3) and elided


# --- truncation and junk ---------------------------------------------------------------------


def test_dump_cut_mid_goroutine_keeps_the_complete_part() -> None:
    raw = fixture("states_debug2.txt")
    cut = raw[: len(raw) // 2]
    dump = load_dump(cut, "cut")
    assert dump.truncated and 0 < dump.total < 35
    for g in dump.goroutines:
        assert all(f.file for f in g.frames)  # the half-printed frame is dropped


def test_dump_cut_after_a_file_line_is_flagged_only_if_mid_line() -> None:
    raw = fixture("states_debug2.txt")
    end = raw.index(b"\n\ngoroutine ", 5000)
    assert not load_dump(raw[: end + 1], "whole-lines").truncated
    assert load_dump(raw[: end - 3], "mid-line").truncated


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty input"),
        (b"   \n\n", "empty input"),
        (b"goroutine 1 [runn", "truncated"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "PNG"),
        (b"\x00\x01\x02garbage\xff\xfe", "binary data"),
        (b"<html><body>404</body></html>", "HTML"),
        (b"heap profile: 1: 2 [3: 4] @ heap/1048576\n", "heap profile"),
        (b"just some text\nwith lines\n", "not a Go goroutine dump"),
    ],
)
def test_not_a_dump_is_one_clear_format_error(data: bytes, problem: str) -> None:
    with pytest.raises(FormatError) as info:
        load_dump(data, "input.txt")
    assert problem in info.value.problem
    assert str(info.value).startswith("input.txt: ") and "\n" not in str(info.value)
