"""Dumps from the Go toolchain on this machine: every endpoint and crash kind, parsed live.

The committed fixtures pin one Go version; these tests catch format drift in
whatever Go is installed. Skipped (with the reason) when Go is missing.
"""

from __future__ import annotations

import subprocess

import pytest

from goprogs import build, crash_output, go_env, sigquit_output, states
from leakhunter.formats.goroutine_text import load_dump
from leakhunter.model.goroutine import GoroutineDump

pytestmark = [pytest.mark.go, pytest.mark.slow]

_DUMPS: dict[str, bytes] = {}


def through(dump: GoroutineDump, function: str):  # type: ignore[no-untyped-def]
    return next(g for g in dump.groups if any(f.function == function for f in g.frames))


def parked(dump: GoroutineDump) -> int:
    """Goroutines running the states program's own code (main.*), parked for good."""
    return sum(
        g.count for g in dump.groups if any(f.function.startswith("main.") for f in g.frames)
    )


@pytest.fixture(scope="module")
def dumps() -> dict[str, bytes]:
    """Every endpoint of one states process (and a labelled one), fetched once."""
    if not _DUMPS:
        with states() as srv:
            for path in (
                "goroutine?debug=2",
                "goroutine?debug=1",
                "goroutine",
                "goroutineleak?debug=1",
                "goroutineleak?debug=2",
                "goroutineleak",
            ):
                _DUMPS[path] = srv.get("/debug/pprof/" + path)
        with states(labels=True) as srv:
            _DUMPS["labels"] = srv.get("/debug/pprof/goroutine?debug=2")
    return _DUMPS


def test_every_goroutine_endpoint_parses_and_agrees(dumps: dict[str, bytes]) -> None:
    full = load_dump(dumps["goroutine?debug=2"], "debug=2")
    counted = load_dump(dumps["goroutine?debug=1"], "debug=1")
    proto = load_dump(dumps["goroutine"], "debug=0")
    assert (full.format, counted.format, proto.format) == ("debug=2", "debug=1", "debug=0")
    # Three fetches of a live process: the program's own goroutines must agree exactly,
    # while net/http's connection goroutines come and go between requests (the previous
    # request's connection may still be closing when the next one is served).
    assert parked(full) == parked(counted) == parked(proto) >= 30
    assert min(full.total, counted.total, proto.total) >= 35
    for fn, state in (
        ("main.recvWorker", "chan receive"),
        ("main.sendWorker", "chan send"),
        ("main.selectWorker", "select"),
        ("main.mutexWorker", "sync.Mutex.Lock"),
        ("main.condWorker", "sync.Cond.Wait"),
        ("main.sleeper", "sleep"),
    ):
        assert through(full, fn).state == state
        assert through(proto, fn).state == state  # inferred from the runtime's leaf frames
        assert through(full, fn).count == through(proto, fn).count


def test_goroutineleak_endpoints(dumps: dict[str, bytes]) -> None:
    marked = load_dump(dumps["goroutineleak?debug=2"], "leak2")
    counted = load_dump(dumps["goroutineleak?debug=1"], "leak1")
    proto = load_dump(dumps["goroutineleak"], "leak0")
    leaked = sum(g.leaked for g in marked.groups)
    assert leaked >= 3  # (*server).loop x2, selectForever, nilChanWorker at least
    assert counted.total == proto.total == leaked
    assert through(marked, "main.(*server).loop").leaked == 2


def test_labels_in_headers(dumps: dict[str, bytes]) -> None:
    dump = load_dump(dumps["labels"], "labels")
    tenants = {dict(g.labels).get("tenant") for g in dump.goroutines if g.labels}
    assert tenants == {"acme", "globex"}


@pytest.mark.parametrize("mode", ["panic", "segv", "deadlock", "deep"])
def test_crash_output(mode: str) -> None:
    dump = load_dump(crash_output(mode), mode)
    assert dump.format == "crash" and dump.message
    assert through(dump, "main.park.func1").count == 3


def test_fatal_error_with_system_traceback() -> None:
    dump = load_dump(crash_output("throw", "system"), "throw")
    assert dump.message.startswith("fatal error:")
    assert any(g.state == "GC sweep wait" for g in dump.groups)  # system goroutines shown


@pytest.mark.parametrize("traceback", [None, "crash"])
def test_sigquit(traceback: str | None) -> None:
    dump = load_dump(sigquit_output(traceback), "sigquit")
    assert dump.message.startswith("SIGQUIT: quit")
    assert 0 not in {g.id for g in dump.goroutines}
    assert through(dump, "main.park.func1").count == 3


def test_panic_listing_every_parked_goroutine() -> None:
    binary = build("states")
    result = subprocess.run(
        [str(binary), "-panic"],
        capture_output=True,
        timeout=60,
        env=go_env({"GOTRACEBACK": "all"}),
    )
    dump = load_dump(result.stderr, "panic")
    assert dump.message.startswith("panic: boom after parking")
    assert dump.total >= 30
    assert through(dump, "main.recvWorker").count == 3
    assert any(g.elided for g in dump.goroutines)
