"""The agent's endpoints: MemStats counters, heap and goroutine profiles, ASGI/WSGI mounts."""

from __future__ import annotations

import asyncio
import gc
import gzip
import threading
import time
import weakref
from collections.abc import Iterator

import httpx
import pytest

import leakhunter.agent
from leakhunter.agent import AgentCore, RoutineTracker, task_state, thread_state
from leakhunter.agent._names import Namer
from leakhunter.collect.targets import group_counts, is_restart
from leakhunter.formats.goroutine_text import load_dump
from leakhunter.formats.memstats import parse_memstats
from leakhunter.formats.pprof import decode
from leakhunter.model.goroutine import Frame, WaitClass, classify_state


@pytest.fixture
def agent() -> Iterator[leakhunter.agent.Agent]:
    a = leakhunter.agent.start()
    try:
        yield a
    finally:
        a.stop()


def _get(agent: leakhunter.agent.Agent, path: str) -> bytes:
    r = httpx.get(agent.url + path, timeout=30)
    assert r.status_code == 200, r.text
    return r.content


def test_memstats_counters_behave_like_go(agent: leakhunter.agent.Agent) -> None:
    first = parse_memstats(_get(agent, "/debug/pprof/heap?gc=1&debug=1"))
    keep = [bytearray(1000) for _ in range(2000)]
    second = parse_memstats(_get(agent, "/debug/pprof/heap?gc=1&debug=1"))
    assert second.num_forced_gc == first.num_forced_gc + 1
    assert second.num_gc > first.num_gc
    assert second.total_alloc >= first.total_alloc
    assert not is_restart(first, second)
    assert second.heap_alloc - first.heap_alloc > 1_500_000  # the census sees the 2 MB
    assert second.fields["Sys"] > 0
    del keep


def test_forced_gc_is_full_unless_one_just_ran_on_a_large_heap() -> None:
    """gc=1 frees cyclic garbage; a costly full collection is not repeated within 50x its cost."""
    generations: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    core = AgentCore()
    gc.callbacks.append(seen)
    try:
        # ~300k tracked objects: a full collection costs milliseconds, so a second
        # gc=1 right after the first (well within 50x that) runs a young one only
        heap = [[i] for i in range(300_000)]
        cycle: list[object] = []
        cycle.append(cycle)
        ref = weakref.ref(Node := type("Node", (), {}))  # a class is a cycle: freed by a full gc
        del cycle, Node
        generations.clear()
        assert core.handle("/debug/pprof/heap", "gc=1&debug=1").status == 200
        assert ref() is None
        core.handle("/debug/pprof/heap", "gc=1&debug=1")
        assert generations[:2] == [2, 1], generations
        assert core.memstats()["NumForcedGC"] == 2  # every gc=1 counts, as in Go
        del heap
    finally:
        gc.callbacks.remove(seen)
        core.close()


def test_heap_profile_is_a_census_by_type(agent: leakhunter.agent.Agent) -> None:
    class Widget:
        pass

    keep = [Widget() for _ in range(3000)]
    profile = decode(_get(agent, "/debug/pprof/heap"))
    assert [vt.type for vt in profile.sample_types] == [
        "alloc_objects",
        "alloc_space",
        "inuse_objects",
        "inuse_space",
    ]
    names = {f.id: f.name for f in profile.functions}
    counts: dict[str, int] = {}
    col = profile.column(2).tolist()
    for i, s in enumerate(profile.sample_stack.tolist()):
        for loc in profile.stacks.get(s):
            line = next(lc for lc in profile.locations if lc.id == loc).lines[0]
            counts[names[line.function_id]] = counts.get(names[line.function_id], 0) + col[i]
    widget = [n for n in counts if n.endswith("Widget")]
    assert widget and counts[widget[0]] >= 3000
    del keep


def test_traced_heap_names_python_functions() -> None:
    core = AgentCore(trace=True, trace_frames=8)
    try:

        def remember_everything() -> list[bytes]:
            return [bytes(2048) for _ in range(500)]

        keep = remember_everything()
        profile = decode(core.handle("/debug/pprof/heap", "").body)
        names = {f.name for f in profile.functions}
        assert any(n.endswith("remember_everything") for n in names), sorted(names)[:20]
        del keep
    finally:
        core.close()


def test_heap_seconds_window_traces_only_while_asked() -> None:
    core = AgentCore()
    reply = core.handle("/debug/pprof/heap", "seconds=0.2")
    assert reply.status == 200 and decode(reply.body).sample_types
    assert core.handle("/debug/pprof/nope", "").status == 404


async def _parked(q: asyncio.Queue[int]) -> None:
    await q.get()


def test_goroutine_endpoints_list_tasks_and_threads(agent: leakhunter.agent.Agent) -> None:
    stop = threading.Event()
    ready = threading.Event()
    loops: list[asyncio.AbstractEventLoop] = []

    def run_loop() -> None:
        async def main() -> None:
            q: asyncio.Queue[int] = asyncio.Queue()
            tasks = [asyncio.create_task(_parked(q)) for _ in range(7)]
            loops.append(asyncio.get_running_loop())
            await asyncio.sleep(0)  # one loop turn: every task has run to its q.get()
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)
            for t in tasks:
                t.cancel()

        asyncio.run(main())

    worker = threading.Thread(target=run_loop)
    worker.start()
    try:
        assert ready.wait(60)
        dump = load_dump(_get(agent, "/debug/pprof/goroutine?debug=2"))
        parked = [g for g in dump.groups if g.state == "queue get"]
        assert parked and parked[0].count == 7
        assert parked[0].frames[0].function == "asyncio.queues.Queue.get"
        assert parked[0].frames[1].function.endswith("_parked")
        assert parked[0].state_class is WaitClass.CHANNEL
        counts = group_counts(_get(agent, "/debug/pprof/goroutine?debug=0"))
        assert 7 in counts.values()
        text = _get(agent, "/debug/pprof/goroutine?debug=1").decode()
        assert text.startswith("goroutine profile: total ")
    finally:
        stop.set()
        worker.join(60)


def _spawn_watchers(q: asyncio.Queue[int], n: int) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(_parked(q)) for _ in range(n)]


def _spawn_thread(ev: threading.Event) -> threading.Thread:
    t = threading.Thread(target=ev.wait, name="watchdog")
    t.start()
    return t


def _spawned_thread_waits(raw: bytes) -> bool:
    """True once the thread _spawn_thread started shows blocked in its ev.wait()."""
    return any(
        g.state == "event wait"
        for g in load_dump(raw).groups
        if g.created_by and "_spawn_thread" in g.created_by.function
    )


def test_dumps_name_who_created_each_task_and_thread() -> None:
    """debug=2 says ``created by <spawner> in goroutine N``, as Go does, for tasks and threads."""

    async def main() -> tuple[bytes, int]:
        with leakhunter.agent.start() as agent:
            me = agent.core.tracker._id(asyncio.current_task())
            q: asyncio.Queue[int] = asyncio.Queue()
            ev = threading.Event()
            tasks = _spawn_watchers(q, 4)
            thread = _spawn_thread(ev)
            await asyncio.sleep(0.05)
            try:
                # the thread reaches ev.wait() when the OS lets it: wait for that state
                deadline = time.monotonic() + 60
                while True:
                    raw = await asyncio.to_thread(_get, agent, "/debug/pprof/goroutine?debug=2")
                    if _spawned_thread_waits(raw) or time.monotonic() > deadline:
                        return raw, me
                    await asyncio.sleep(0.05)
            finally:
                ev.set()
                thread.join(60)
                for t in tasks:
                    t.cancel()

    raw, me = asyncio.run(main())
    dump = load_dump(raw)
    parked = [g for g in dump.groups if g.state == "queue get"]
    assert parked and parked[0].count == 4
    assert parked[0].created_by is not None
    assert parked[0].created_by.function.endswith("_spawn_watchers")
    assert parked[0].created_by.file == __file__
    assert parked[0].creator_id == me  # the task that ran the spawner
    by_thread = [
        g for g in dump.groups if g.created_by and "_spawn_thread" in g.created_by.function
    ]
    assert len(by_thread) == 1 and by_thread[0].state == "event wait"
    assert by_thread[0].creator_id == me


def test_wait_minutes_count_from_first_seen_blocked() -> None:
    now = [0.0]
    tracker = RoutineTracker(Namer(), clock=lambda: now[0])
    ev = threading.Event()
    t = threading.Thread(target=ev.wait, name="sleeper")
    t.start()
    try:
        # started is not yet blocked: wait (not sleep) until the thread is in ev.wait()
        deadline = time.monotonic() + 60
        while True:
            first = [r for r in tracker.snapshot() if r.name == "sleeper"]
            if (first and first[0].state == "event wait") or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert first and first[0].state == "event wait" and first[0].wait_minutes is None
        now[0] = 185.0
        later = [r for r in tracker.snapshot() if r.name == "sleeper"]
        assert later[0].wait_minutes == 3
    finally:
        ev.set()
        t.join()


def test_python_wait_states_classify() -> None:
    assert task_state([Frame("asyncio.queues.Queue.put")], True) == "queue put"
    assert task_state([Frame("asyncio.locks.Lock.acquire")], True) == "lock"
    assert task_state([Frame("asyncio.tasks.sleep")], True) == "sleep"
    assert task_state([Frame("app.handler")], True) == "future"
    assert thread_state([Frame("threading.Condition.wait"), Frame("threading.Event.wait")]) in (
        "condition wait",
        "event wait",
    )
    for state, cls in (
        ("queue get", WaitClass.CHANNEL),
        ("event wait", WaitClass.SYNC),
        ("lock", WaitClass.SYNC),
        ("future", WaitClass.SYNC),
        ("sleep", WaitClass.SLEEP),
        ("socket io", WaitClass.IO),
    ):
        assert classify_state(state) is cls


def test_asgi_app_serves_the_same_endpoints() -> None:
    app = leakhunter.agent.asgi_app()

    async def call(path: str, query: bytes) -> tuple[int, bytes]:
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        scope = {"type": "http", "path": path, "root_path": "", "query_string": query}
        await app(scope, receive, send)  # type: ignore[arg-type]
        status = sent[0]["status"]
        body = sent[1]["body"]
        assert isinstance(status, int) and isinstance(body, bytes)
        return status, body

    status, body = asyncio.run(call("/ops/debug/pprof/heap", b"gc=1&debug=1"))
    assert status == 200 and parse_memstats(body).num_forced_gc == 1
    status, body = asyncio.run(call("/debug/pprof/goroutine", b"debug=0"))
    assert status == 200 and gzip.decompress(body)


def test_wsgi_app_serves_the_same_endpoints() -> None:
    app = leakhunter.agent.wsgi_app()
    seen: list[str] = []
    environ = {"SCRIPT_NAME": "/ops", "PATH_INFO": "/debug/pprof/heap", "QUERY_STRING": "debug=1"}
    body = b"".join(app(environ, lambda status, headers: seen.append(status)))
    assert seen == ["200 OK"]
    assert parse_memstats(body).heap_alloc > 0


@pytest.mark.parametrize(("mount", "url"), [("/debug", "/debug/vars"), ("/ops", "/ops/debug/vars")])
def test_asgi_app_mounted_under_a_prefix_in_starlette(mount: str, url: str) -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Starlette(routes=[Mount(mount, app=leakhunter.agent.asgi_app())])

    async def get(path: str, **params: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return await client.get(path, params=params)

    reply = asyncio.run(get(url))
    assert reply.status_code == 200 and "cmdline" in reply.json()
    heap = asyncio.run(get(url.replace("/vars", "/pprof/heap"), debug="1"))
    assert heap.status_code == 200 and parse_memstats(heap.content).heap_alloc > 0


def test_wsgi_app_mounted_at_debug() -> None:
    app = leakhunter.agent.wsgi_app()
    seen: list[str] = []
    environ = {"SCRIPT_NAME": "/debug", "PATH_INFO": "/pprof/heap", "QUERY_STRING": "debug=1"}
    body = b"".join(app(environ, lambda status, headers: seen.append(status)))
    assert seen == ["200 OK"] and parse_memstats(body).heap_alloc > 0


def test_the_http_server_speaks_enough_http(agent: leakhunter.agent.Agent) -> None:
    import socket

    def exchange(raw: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as sock:
            sock.sendall(raw)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    two = exchange(
        b"GET /debug/vars HTTP/1.1\r\nHost: x\r\n\r\n"  # kept alive...
        b"HEAD /debug/vars HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"  # ...then closed
    )
    assert two.count(b"HTTP/1.1 200 OK") == 2 and b"Connection: keep-alive" in two
    assert two.count(b'"cmdline"') == 1  # HEAD: headers only
    assert exchange(b"POST /debug/vars HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi").startswith(
        b"HTTP/1.1 405"
    )
    assert exchange(b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 400")
    old = exchange(b"GET /debug/pprof/nothing HTTP/1.0\r\n\r\n")  # closed after one answer
    assert old.startswith(b"HTTP/1.1 404") and b"Connection: close" in old
