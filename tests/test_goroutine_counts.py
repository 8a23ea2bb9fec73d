"""Counted goroutine profiles (debug=1 text, debug=0 protobuf), state inference, labels."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from leakhunter.errors import FormatError
from leakhunter.formats.goroutine_counts import parse_counts, profile_to_dump
from leakhunter.formats.goroutine_fields import infer_state, parse_labels, unquote_go
from leakhunter.formats.goroutine_text import infer_state as reexported
from leakhunter.formats.goroutine_text import load_dump
from leakhunter.formats.pprof import decode
from leakhunter.model.goroutine import Frame, GoroutineDump, WaitClass, classify_state

DATA = Path(__file__).parent / "data" / "goroutines"


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def through(dump: GoroutineDump, function: str):  # type: ignore[no-untyped-def]
    return next(g for g in dump.groups if any(f.function == function for f in g.frames))


def stacks(dump: GoroutineDump) -> dict[tuple[str, ...], int]:
    """Group counts keyed by the application frames (runtime frames differ by format).

    Tracebacks print generic instantiations as F[...]; the protobuf names the
    shape (F[go.shape.string]).
    """
    out: dict[tuple[str, ...], int] = {}
    for g in dump.groups:
        key = tuple(
            re.sub(r"\[go\.shape\.[^\]]*\]", "[...]", f.function)
            for f in g.frames
            if f.function.startswith("main.")
        )
        out[key] = out.get(key, 0) + g.count
    return out


# --- debug=1 ---------------------------------------------------------------------------------


def test_debug1_counts_frames_labels() -> None:
    dump = load_dump(fixture("states_debug1.txt"), "d1")
    assert dump.format == "debug=1" and dump.total == 35 and not dump.truncated
    recv = through(dump, "main.recvWorker")
    assert recv.count == 3 and recv.ids == () and recv.created_by is None
    assert recv.frames[0] == Frame("main.recvWorker", recv.frames[0].file, 57) and recv.frames[
        0
    ].file.endswith("states/main.go")
    labelled = sorted(g.labels for g in dump.groups if g.labels)
    assert labelled == [
        (("tenant", "acme"), ("worker", "labelled")),
        (("tenant", "globex"), ("worker", "labelled")),
    ]


def test_debug1_tabwriter_padding_is_read_past() -> None:
    # tabwriter pads short columns with extra tabs: fields must be non-empty ones.
    dump = load_dump(fixture("states_debug1.txt"), "d1")
    lock = through(dump, "main.mutexWorker")
    assert [f.function for f in lock.frames[:4]] == [
        "internal/sync.runtime_SemacquireMutex",
        "internal/sync.(*Mutex).lockSlow",
        "internal/sync.(*Mutex).Lock",
        "sync.(*Mutex).Lock",
    ]
    assert all(f.line > 0 and f.file.endswith(".go") for f in lock.frames)


def test_debug1_states_inferred_where_frames_show_them() -> None:
    dump = load_dump(fixture("states_debug1.txt"), "d1")
    inferred = {through(dump, fn).state for fn in ("main.mutexWorker", "main.condWorker")}
    assert inferred == {"sync.Mutex.Lock", "sync.Cond.Wait"}
    assert through(dump, "main.sleeper").state == "sleep"
    assert through(dump, "main.waitGroupWorker").state_inferred
    # debug=1 hides the runtime's leaf frames: a channel wait cannot be named.
    recv = through(dump, "main.recvWorker")
    assert recv.state == "" and not recv.state_inferred


def test_debug1_goroutineleak_profile_counts_every_goroutine_as_leaked() -> None:
    dump = load_dump(fixture("leak_debug1.txt"), "leak")
    assert dump.total == 4 and sum(g.leaked for g in dump.groups) == 4


def test_debug1_empty_leak_profile_is_a_valid_empty_dump() -> None:
    dump = parse_counts(b"goroutineleak profile: total 0\n")
    assert dump.total == 0 and dump.groups == () and not dump.truncated


def test_debug1_records_differing_only_by_labels_merge() -> None:
    text = (
        b"goroutine profile: total 5\n"
        b'3 @ 0x1 0x2\n# labels: {"job":"a", "svc":"api"}\n#\t0x1\tmain.f+0x1\t/m.go:3\n\n'
        b'2 @ 0x1 0x2\n# labels: {"job":"b", "svc":"api"}\n#\t0x1\tmain.f+0x1\t/m.go:3\n\n'
    )
    (group,) = parse_counts(text).groups
    assert group.count == 5 and group.labels == (("svc", "api"),)


def test_debug1_truncated_and_garbled() -> None:
    raw = fixture("states_debug1.txt")
    cut = parse_counts(raw[: len(raw) // 2], "cut")
    assert cut.truncated and 0 < cut.total < 35
    with pytest.raises(FormatError, match="no stack follows"):
        parse_counts(b"goroutine profile: total 12\n", "empty")
    with pytest.raises(FormatError, match="goroutine profile: total N"):
        parse_counts(b"threadcreate profile: total 3\n", "other")


def test_debug1_symbol_less_frames_keep_their_address() -> None:
    text = b"goroutine profile: total 1\n1 @ 0x4a5b6c\n#\t0x4a5b6c\n\n"
    (group,) = parse_counts(text).groups
    assert group.frames == (Frame("0x4a5b6c"),)


# --- debug=0 protobuf -------------------------------------------------------------------------


def test_protobuf_counts_labels_inlining_and_states() -> None:
    dump = load_dump(fixture("states_debug0.pb.gz"), "pb")
    assert dump.format == "debug=0" and dump.total == 35
    recv = through(dump, "main.recvWorker")
    assert recv.state == "chan receive" and recv.state_inferred and recv.count == 3
    names = [f.function for f in recv.frames]
    # recvWorker is inlined into setup.func1: both come from one location, innermost first.
    assert names == [
        "runtime.gopark",
        "runtime.chanrecv",
        "runtime.chanrecv1",
        "main.recvWorker",
        "main.setup.func1",
    ]
    assert through(dump, "main.selectWorker").state == "select"
    assert through(dump, "main.selectForever").state == "select (no cases)"
    assert through(dump, "main.sendWorker").state == "chan send"
    assert through(dump, "main.rlockWorker").state == "sync.RWMutex.RLock"
    assert through(dump, "main.ioWorker").state == "IO wait"
    assert through(dump, "main.syscallWorker").state == "syscall"
    assert through(dump, "runtime/pprof.writeRuntimeProfile").state == "running"
    labelled = sorted(g.labels for g in dump.groups if g.labels)
    assert labelled[0] == (("tenant", "acme"), ("worker", "labelled"))


def test_protobuf_goroutineleak() -> None:
    dump = load_dump(fixture("leak_debug0.pb.gz"), "leak")
    assert dump.total == 4 and sum(g.leaked for g in dump.groups) == 4
    assert {g.state for g in dump.groups} == {"chan receive", "select (no cases)"}


def test_the_three_formats_of_one_process_agree() -> None:
    text = stacks(load_dump(fixture("states_debug2.txt"), "2"))
    counted = stacks(load_dump(fixture("states_debug1.txt"), "1"))
    proto = stacks(load_dump(fixture("states_debug0.pb.gz"), "0"))
    assert counted == proto

    def comparable(d: dict[tuple[str, ...], int]) -> dict[tuple[str, ...], int]:
        # debug=2 elides the middle of the 121-frame recursion; the counted ones do not.
        return {k: v for k, v in d.items() if k and "main.recurse" not in k}

    assert comparable(text) == comparable(counted)
    assert len(comparable(text)) >= 18


def test_protobuf_of_another_profile_kind_is_refused() -> None:
    prof = decode(gzip.decompress(fixture("states_debug0.pb.gz")), source="pb")
    from leakhunter.model.profile import ValueType

    heap = prof.replace(sample_types=(ValueType("inuse_space", "bytes"),))
    with pytest.raises(FormatError, match="inuse_space, not a goroutine profile"):
        profile_to_dump(heap, "heap.pb.gz")


def test_corrupt_protobuf_is_a_format_error() -> None:
    raw = gzip.decompress(fixture("states_debug0.pb.gz"))
    with pytest.raises(FormatError):
        load_dump(raw[: len(raw) // 3], "cut.pb")


# --- state inference ---------------------------------------------------------------------------


def frames(*names: str) -> tuple[Frame, ...]:
    return tuple(Frame(n) for n in names)


@pytest.mark.parametrize(
    ("stack", "state"),
    [
        (("runtime.gopark", "runtime.chanrecv", "runtime.chanrecv1", "main.w"), "chan receive"),
        (("runtime.gopark", "runtime.chanrecv", "runtime.chanrecv2", "main.w"), "chan receive"),
        (("runtime.gopark", "runtime.chansend", "runtime.chansend1", "main.w"), "chan send"),
        (("runtime.gopark", "runtime.selectgo", "main.w"), "select"),
        (("runtime.gopark", "runtime.block", "main.w"), "select (no cases)"),
        (("sync.runtime_SemacquireMutex", "sync.(*Mutex).lockSlow", "main.w"), "sync.Mutex.Lock"),
        (
            (
                "runtime.gopark",
                "runtime.semacquire1",
                "sync.runtime_Semacquire",
                "sync.(*WaitGroup).Wait",
            ),
            "sync.WaitGroup.Wait",
        ),
        (("runtime.semacquire1", "sync.runtime_Semacquire", "main.w"), "semacquire"),
        (("sync.runtime_notifyListWait", "sync.(*Cond).Wait", "main.w"), "sync.Cond.Wait"),
        (("internal/poll.runtime_pollWait", "internal/poll.(*pollDesc).wait"), "IO wait"),
        (("runtime.gopark", "time.Sleep", "main.w"), "sleep"),
        (("syscall.Syscall6", "syscall.read", "main.w"), "syscall"),
        (("runtime.notetsleepg", "os/signal.signal_recv", "os/signal.loop"), "syscall"),
        (("runtime.gopark", "runtime.gcBgMarkWorker"), "GC worker (idle)"),
        (("main.compute", "main.main"), None),
        (("main.worker", "runtime.chanrecv1"), None),  # stops at the first app frame
        ((), None),
    ],
)
def test_infer_state(stack: tuple[str, ...], state: str | None) -> None:
    assert infer_state(frames(*stack)) == state
    assert reexported is infer_state


@pytest.mark.parametrize(
    ("state", "cls"),
    [
        ("chan receive", WaitClass.CHANNEL),
        ("chan send (nil chan)", WaitClass.CHANNEL),
        ("chan receive (durable)", WaitClass.CHANNEL),
        ("select (no cases)", WaitClass.SELECT),
        ("select (durable)", WaitClass.SELECT),
        ("sync.Mutex.Lock", WaitClass.SYNC),
        ("sync.WaitGroup.Wait (durable)", WaitClass.SYNC),
        ("semacquire", WaitClass.SYNC),
        ("IO wait", WaitClass.IO),
        ("sleep", WaitClass.SLEEP),
        ("syscall", WaitClass.SYSCALL),
        ("running", WaitClass.RUNNING),
        ("GC worker (idle)", WaitClass.OTHER),
        ("quantum entanglement wait", WaitClass.OTHER),
        ("", WaitClass.OTHER),
    ],
)
def test_state_classes(state: str, cls: WaitClass) -> None:
    assert classify_state(state) is cls


# --- labels --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ('{"tenant":"acme", "worker":"labelled"}', (("tenant", "acme"), ("worker", "labelled"))),
        ('{"b": "2", "a": "1"}', (("a", "1"), ("b", "2"))),
        (
            r'{"fizzle": "b\x1bit", "foo\"ba\x00r": "baz\n"}',
            (("fizzle", "b\x1bit"), ('foo"ba\x00r', "baz\n")),
        ),
        (r'{"k": "\u1234\u03a3 \U00045678"}', (("k", "\u1234\u03a3 \U00045678"),)),
        (r'{"k": "\ud800 \U00110000"}', (("k", "\ufffd \ufffd"),)),
        ("{}", ()),
        ("not labels at all", ()),
    ],
)
def test_parse_labels(text: str, pairs: tuple[tuple[str, str], ...]) -> None:
    assert parse_labels(text) == pairs


def test_unquote_go_escapes() -> None:
    assert unquote_go(r"a\tb\\c\"d\101") == 'a\tb\\c"dA'
    assert unquote_go("plain") == "plain"
