"""Asyncio tasks and threads as goroutine-like routines: stacks, wait states, wait times.

A task's stack is its coroutine await chain (``cr_await``/``gi_yieldfrom``), a
thread's its frame chain from ``sys._current_frames()``; both leaf first. The
wait state names what the routine is parked on ("queue get", "event wait",
"lock", "sleep", "future", "socket io", ...), classified from the frames. Tasks
are read on their own loop (``call_soon_threadsafe``; ``all_tasks`` is not
thread-safe) with a direct read as the fallback when the loop does not answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import linecache
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from types import FrameType

from leakhunter.agent._names import Namer
from leakhunter.agent.creators import CreatorLog, Task
from leakhunter.model.goroutine import Frame

__all__ = ["AGENT_THREAD_PREFIX", "Routine", "RoutineTracker", "task_state", "thread_state"]

AGENT_THREAD_PREFIX = "leakhunter-agent"
_MAX_DEPTH = 64

# (function name prefix) -> state; the first entry matching any frame wins, so a
# wrapper (Event.wait) outranks what it calls (Condition.wait).
_TASK_STATES: tuple[tuple[str, str], ...] = (
    ("asyncio.queues.Queue.get", "queue get"),
    ("asyncio.queues.Queue.put", "queue put"),
    ("asyncio.locks.Event.wait", "event wait"),
    ("asyncio.locks.Condition.wait", "condition wait"),
    ("asyncio.locks.Lock.acquire", "lock"),
    ("asyncio.locks.Semaphore.acquire", "lock"),
    ("asyncio.locks.Barrier.wait", "lock"),
    ("asyncio.tasks.sleep", "sleep"),
    ("asyncio.streams.", "socket io"),
    ("asyncio.base_events.BaseEventLoop.sock_", "socket io"),
    ("asyncio.selector_events.BaseSelectorEventLoop.sock_", "socket io"),
    ("asyncio.base_events.Server.serve_forever", "socket io"),
    ("aiohttp.streams.", "socket io"),
    ("aiohttp.client_proto.", "socket io"),
    ("aiohttp.web_protocol.", "socket io"),
    ("httpcore.", "socket io"),
    ("anyio._backends.", "socket io"),
    ("uvicorn.", "socket io"),
)
_THREAD_STATES: tuple[tuple[str, str], ...] = (
    ("threading.Event.wait", "event wait"),
    ("threading.Thread.join", "thread join"),
    ("threading.Barrier.wait", "lock"),
    ("threading.Condition.wait", "condition wait"),
    ("threading.Semaphore.acquire", "lock"),
    ("queue.Queue.get", "queue get"),
    ("queue.Queue.put", "queue put"),
    ("selectors.", "socket io"),
    ("socket.", "socket io"),
    ("ssl.", "socket io"),
    ("socketserver.", "socket io"),
    ("concurrent.futures._base.", "future"),
)
# What a thread's leaf line is doing when it sits in C code (no Python frame below).
_LINE_STATES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bsleep\("), "sleep"),
    (re.compile(r"\.(recv\w*|accept|connect|send\w*|read\w*|select|poll)\("), "socket io"),
    (re.compile(r"\.acquire\("), "lock"),
    (re.compile(r"\.wait\("), "event wait"),
    (re.compile(r"\.join\("), "thread join"),
)


@dataclass(frozen=True, slots=True)
class Routine:
    """One task or thread at scrape time; frames leaf first, ``wait_minutes`` like Go's.

    ``created_by`` is the application frame that created it and ``creator`` the
    id of the routine that ran that code, when the agent saw the creation.
    """

    id: int
    kind: str
    name: str
    state: str
    frames: tuple[Frame, ...]
    wait_minutes: int | None = None
    created_by: Frame | None = None
    creator: int | None = None


def _classify(frames: Sequence[Frame], table: tuple[tuple[str, str], ...]) -> str | None:
    """Return the state of the first table entry any frame matches (table order = priority)."""
    names = [f.function for f in frames]
    for prefix, state in table:
        if any(n.startswith(prefix) for n in names):
            return state
    return None


def task_state(frames: Sequence[Frame], waiting: bool) -> str:
    """Return a task's wait state from its await chain (leaf first)."""
    state = _classify(frames, _TASK_STATES)
    if state is not None:
        return state
    return "future" if waiting else "runnable"


def thread_state(frames: Sequence[Frame]) -> str:
    """Return a thread's wait state from its frames (leaf first)."""
    state = _classify(frames, _THREAD_STATES)
    if state is not None:
        return state
    if frames:
        line = linecache.getline(frames[0].file, frames[0].line)
        for pattern, name in _LINE_STATES:
            if pattern.search(line):
                return name
    return "running"


def _await_chain(task: asyncio.Task[object], namer: Namer) -> tuple[tuple[Frame, ...], bool]:
    """Return (frames leaf first, waiting on something) of a task's coroutine chain."""
    frames: list[Frame] = []
    obj: object = task.get_coro()
    for _ in range(_MAX_DEPTH):
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if frame is None:
            break
        frames.append(namer.code_frame(frame.f_code, frame.f_lineno))
        nxt = getattr(obj, "cr_await", None)
        obj = nxt if nxt is not None else getattr(obj, "gi_yieldfrom", None)
        if obj is None:
            break
    frames.reverse()
    # Future.__await__ is plumbing under every await of a future: drop it.
    if frames and frames[0].function.endswith("Future.__await__"):
        frames.pop(0)
    waiting = getattr(task, "_fut_waiter", None) is not None or bool(frames)
    return tuple(frames), waiting


def _thread_frames(frame: FrameType | None, namer: Namer) -> tuple[Frame, ...]:
    out: list[Frame] = []
    while frame is not None and len(out) < _MAX_DEPTH:
        out.append(namer.code_frame(frame.f_code, frame.f_lineno))
        frame = frame.f_back
    return tuple(out)


def _loops_in_threads(frames: Iterable[FrameType]) -> list[asyncio.AbstractEventLoop]:
    """Find event loops running in threads from their ``run_forever`` frames."""
    found: list[asyncio.AbstractEventLoop] = []
    for top in frames:
        frame: FrameType | None = top
        while frame is not None:
            if frame.f_code.co_name == "run_forever" and "asyncio" in frame.f_code.co_filename:
                loop = frame.f_locals.get("self")
                if isinstance(loop, asyncio.AbstractEventLoop):
                    found.append(loop)
                break
            frame = frame.f_back
    return found


class RoutineTracker:
    """Lists routines and remembers since when each was blocked at the same spot.

    Ids are small and stable per task/thread (Go's goroutine ids are too); the
    waiting map holds (spot, first seen) per routine and forgets finished ones.
    """

    def __init__(self, namer: Namer, clock: Callable[[], float] = time.monotonic) -> None:
        self.namer = namer
        self._clock = clock
        self._lock = threading.Lock()
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._ids: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
        self._thread_ids: dict[int, int] = {}
        self._next = itertools.count(1)  # next() is atomic: tasks get ids on any thread
        self._since: dict[tuple[str, int], tuple[object, float]] = {}
        self.creators = CreatorLog(self._routine_id, self._next.__next__)

    def add_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember a loop whose tasks should be listed, and note who creates them."""
        self._loops.add(loop)
        self.creators.watch_loop(loop)

    def _routine_id(self, routine: object) -> int:
        if isinstance(routine, threading.Thread):
            return self._thread_id(routine.ident or 0)
        return self._id(routine)

    def _created(self, routine: object) -> tuple[Frame | None, int | None]:
        rec = self.creators.get(routine)
        if rec is None:
            return None, None
        code, line, creator = rec
        return self.namer.code_frame(code, line), creator

    def _id(self, key: object) -> int:
        """Return a task's id, kept on it if the agent's factory made it (see creators.Task)."""
        if isinstance(key, Task):
            rid: int | None = getattr(key, "_leakhunter_id", None)
            if rid is None:  # made outside the factory (by hand): numbered now
                key._leakhunter_id = rid = next(self._next)
            return rid
        rid = self._ids.get(key)
        if rid is None:
            rid = self._ids.setdefault(key, next(self._next))
        return rid

    def _thread_id(self, ident: int) -> int:
        rid = self._thread_ids.get(ident)
        if rid is None:
            rid = self._thread_ids.setdefault(ident, next(self._next))
        return rid

    def _tasks_of(self, loop: asyncio.AbstractEventLoop, timeout: float) -> list[Routine]:
        def read() -> list[tuple[asyncio.Task[object], tuple[Frame, ...], bool]]:
            return [(t, *_await_chain(t, self.namer)) for t in asyncio.all_tasks(loop)]

        if loop.is_closed():
            return []
        rows: list[tuple[asyncio.Task[object], tuple[Frame, ...], bool]]
        same_thread = getattr(loop, "_thread_id", None) == threading.get_ident()
        if same_thread or not loop.is_running():
            rows = read()
        else:
            fut: concurrent.futures.Future[list[tuple[asyncio.Task[object], ...]]]
            fut = concurrent.futures.Future()

            def on_loop() -> None:
                try:
                    fut.set_result(read())  # type: ignore[arg-type]
                except BaseException as exc:  # handed to the scraping thread
                    fut.set_exception(exc)

            try:
                loop.call_soon_threadsafe(on_loop)
                rows = fut.result(timeout=timeout)  # type: ignore[assignment]
            except (RuntimeError, concurrent.futures.TimeoutError):
                rows = read()  # loop blocked or closing: best effort from here
        out = []
        for task, frames, waiting in rows:
            if task.done():
                continue
            state = task_state(frames, waiting)
            by, creator = self._created(task)
            name = task.get_name()
            out.append(Routine(self._id(task), "task", name, state, frames, None, by, creator))
        return out

    def snapshot(self, timeout: float = 1.0) -> tuple[Routine, ...]:
        """Return every live task and thread (agent threads excluded), wait times set."""
        current = sys._current_frames()
        with self._lock:
            found = _loops_in_threads(current.values())
            loops = list({*self._loops, *found})
        for loop in found:
            self.add_loop(loop)
        routines: list[Routine] = []
        for loop in loops:
            routines += self._tasks_of(loop, timeout)
        threads = {t.ident: t for t in threading.enumerate()}
        for ident, frame in current.items():
            thread = threads.get(ident)
            name = thread.name if thread is not None else f"thread-{ident}"
            if name.startswith(AGENT_THREAD_PREFIX):
                continue
            frames = _thread_frames(frame, self.namer)
            state = thread_state(frames)
            by, creator = self._created(thread) if thread is not None else (None, None)
            rid = self._thread_id(ident)
            routines.append(Routine(rid, "thread", name, state, frames, None, by, creator))
        with self._lock:
            for ident in [i for i in self._thread_ids if i not in current]:
                del self._thread_ids[ident]
            return self._timed(routines)

    def _timed(self, routines: list[Routine]) -> tuple[Routine, ...]:
        now = self._clock()
        since: dict[tuple[str, int], tuple[object, float]] = {}
        out = []
        for r in routines:
            key = (r.kind, r.id)
            spot = (r.state, r.frames[:1])
            seen = self._since.get(key)
            first = seen[1] if seen is not None and seen[0] == spot else now
            since[key] = (spot, first)
            blocked = r.state not in ("running", "runnable")
            minutes = int((now - first) // 60) if blocked else 0
            out.append(replace(r, wait_minutes=minutes if minutes >= 1 else None))
        self._since = since
        return tuple(out)
