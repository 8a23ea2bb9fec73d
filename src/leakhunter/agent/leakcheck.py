"""Leak checks around one piece of code: asyncio tasks, threads, file descriptors, memory.

``ResourceWatch`` records what exists before, tracks creations (with their stacks)
while active, and lists what is still alive afterwards, after a settle period with
retries (as goleak does) so things that are merely finishing are not reported.
``memory_growth`` repeats a body and reports monotone growth of live memory,
retrying so warming caches (which level off) pass. The pytest plugin drives them.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import time
import traceback
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from leakhunter.agent._names import Namer
from leakhunter.agent.routines import task_state
from leakhunter.model.goroutine import Frame

__all__ = ["Leak", "MemoryVerdict", "ResourceWatch", "memory_growth"]

Stack = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Leak:
    """One leaked item: its kind (task/thread/fd/socket/memory), what it is, where it was made."""

    kind: str
    description: str
    stack: Stack
    rule: str

    def render(self) -> str:
        """Return the item as a few readable lines."""
        lines = [f"{self.kind}: {self.description}  [rule {self.rule}]"]
        if self.stack:
            lines.append("  created at (innermost last):")
            lines += [f"    {s}" for s in self.stack[-8:]]
        return "\n".join(lines)


_HERE = os.path.dirname(os.path.abspath(__file__))


def _plumbing(filename: str) -> bool:
    """Return True for frames of the test runner or of leakhunter's own checks."""
    return (
        "/_pytest/" in filename
        or "/pluggy/" in filename
        or filename.startswith((_HERE, "<frozen runpy"))
        or filename.endswith("leakhunter/pytest_plugin.py")
    )


def _stack(skip: int = 2) -> Stack:
    frames = traceback.extract_stack()[:-skip]
    keep = [f for f in frames if not _plumbing(f.filename)]
    return tuple(f"{f.filename}:{f.lineno} in {f.name}" for f in keep[-12:])


def _open_fds() -> dict[int, str]:
    fds: dict[int, str] = {}
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return fds
    for name in names:
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except (OSError, ValueError):
            continue
    return fds


class ResourceWatch:
    """Tracks tasks, threads and descriptors created between ``start()`` and ``leaks()``."""

    def __init__(self, *, tasks: bool = True, threads: bool = True, fds: bool = True) -> None:
        self.check_tasks, self.check_threads, self.check_fds = tasks, threads, fds
        self._tasks: weakref.WeakKeyDictionary[asyncio.Task[Any], Stack] = (
            weakref.WeakKeyDictionary()
        )
        self._threads: weakref.WeakKeyDictionary[threading.Thread, Stack] = (
            weakref.WeakKeyDictionary()
        )
        self._fd_stacks: dict[int, Stack] = {}
        self._before_threads: set[int] = set()
        self._before_fds: dict[int, str] = {}
        self._undo: list[Callable[[], None]] = []

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        self._undo.append(lambda: setattr(owner, name, original))

    def start(self) -> None:
        """Record the baseline and start tracking creations."""
        self._before_threads = {t.ident or 0 for t in threading.enumerate()}
        self._before_fds = _open_fds() if self.check_fds else {}
        watch = self

        def task_factory(original: Any) -> Any:
            def create_task(loop: Any, coro: Any, *args: Any, **kwargs: Any) -> Any:
                task = original(loop, coro, *args, **kwargs)
                watch._tasks[task] = _stack()
                return task

            return create_task

        def thread_start(original: Any) -> Any:
            def start(thread: threading.Thread) -> None:
                watch._threads[thread] = _stack()
                original(thread)

            return start

        def sock_init(original: Any) -> Any:
            def init(sock: socket.socket, *args: Any, **kwargs: Any) -> None:
                original(sock, *args, **kwargs)
                watch._fd_stacks[sock.fileno()] = _stack()

            return init

        if self.check_tasks:
            self._patch(asyncio.BaseEventLoop, "create_task", task_factory)
        if self.check_threads:
            self._patch(threading.Thread, "start", thread_start)
        if self.check_fds:
            self._patch(socket.socket, "__init__", sock_init)

    def stop(self) -> None:
        """Stop tracking (undo the patches)."""
        while self._undo:
            self._undo.pop()()

    def _current(self) -> list[Leak]:
        found: list[Leak] = []
        if self.check_tasks:
            for task, stack in list(self._tasks.items()):
                if task.done():
                    continue
                found.append(_task_leak(task, stack))
        if self.check_threads:
            for thread, stack in list(self._threads.items()):
                if thread.is_alive() and (thread.ident or 0) not in self._before_threads:
                    desc = f"{thread.name} (daemon={thread.daemon}) still running"
                    found.append(Leak("thread", desc, stack, "PY-THREAD-NEVER-JOINED"))
        if self.check_fds:
            for fd, target in _open_fds().items():
                if self._before_fds.get(fd) == target:
                    continue
                kind = "socket" if target.startswith("socket:") else "fd"
                stack = self._fd_stacks.get(fd, ())
                found.append(Leak(kind, f"fd {fd} -> {target}", stack, _fd_rule(stack)))
        return found

    def leaks(self, grace: float = 1.0) -> list[Leak]:
        """Return what is still alive, retrying with backoff for up to ``grace`` seconds."""
        deadline = time.monotonic() + grace
        delay = 0.001
        while True:
            found = self._current()
            if not found or time.monotonic() >= deadline:
                return found
            time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.1)
            gc.collect()


def _task_leak(task: asyncio.Task[Any], stack: Stack) -> Leak:
    coro = task.get_coro()
    namer = Namer()
    frames: list[Frame] = []
    obj: Any = coro
    while obj is not None and len(frames) < 32:
        code = getattr(obj, "cr_code", None) or getattr(obj, "gi_code", None)
        if code is None:
            break
        frames.append(Frame(namer.code_name(code)))
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
    frames.reverse()
    state = task_state(frames, True)
    rule = "PY-TASK-QUEUE-NO-CONSUMER" if state.startswith("queue") else "PY-TASK-NEVER-AWAITED"
    where = " <- ".join(f.function for f in frames[:3])
    return Leak("task", f"{task.get_name()} pending ({state}) in {where}", stack, rule)


def _fd_rule(stack: Stack) -> str:
    joined = "\n".join(stack)
    if "aiohttp" in joined or "httpx" in joined:
        return "PY-AIOHTTP-SESSION-NOT-CLOSED"
    return "PY-SOCKET-OR-FILE-NOT-CLOSED"


@dataclass(frozen=True, slots=True)
class MemoryVerdict:
    """Live bytes after each run; ``leaks`` lists the growing sites when growth was monotone."""

    samples: tuple[int, ...]
    leaks: tuple[Leak, ...]

    @property
    def growing(self) -> bool:
        """Return True when memory grew on every repetition of every round."""
        return bool(self.leaks)


def _live() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _monotone(samples: list[int], min_bytes: int) -> bool:
    return all(b - a >= min_bytes for a, b in zip(samples, samples[1:], strict=False))


def memory_growth(
    body: Callable[[], object],
    *,
    repeat: int = 5,
    retries: int = 2,
    min_bytes: int = 512,
    frames: int = 12,
) -> MemoryVerdict:
    """Run body once to warm up, then ``repeat`` times per round; fail only if every round grows.

    A round grows when live memory rose by at least ``min_bytes`` after every run.
    A warming cache grows in the first round and levels off in a retry.
    """
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(frames)
    try:
        body()
        samples: list[int] = []
        base = tracemalloc.take_snapshot()
        for _ in range(retries + 1):
            base = tracemalloc.take_snapshot()
            samples = [_live()]
            for _ in range(repeat):
                body()
                samples.append(_live())
            if not _monotone(samples, min_bytes):
                return MemoryVerdict(tuple(samples), ())
        diff = tracemalloc.take_snapshot().compare_to(base, "traceback")
        grown = [d for d in _growing(diff) if d.size_diff >= min_bytes][:5]
        leaks = tuple(_memory_leak(stat, repeat) for stat in grown)
        if not leaks:  # growth spread thin over many sites: still a failure
            desc = f"+{samples[-1] - samples[0]} B over {repeat} runs, no single site"
            leaks = (Leak("memory", desc, (), "GO-GENERIC-HEAP-GROWTH"),)
        return MemoryVerdict(tuple(samples), leaks)
    finally:
        if started:
            tracemalloc.stop()


def _growing(diff: list[tracemalloc.StatisticDiff]) -> list[tracemalloc.StatisticDiff]:
    here = os.path.dirname(os.path.abspath(__file__))
    return [
        d
        for d in diff
        if d.size_diff > 0 and not any(f.filename.startswith(here) for f in d.traceback[-1:])
    ]


def _memory_leak(stat: tracemalloc.StatisticDiff, repeat: int) -> Leak:
    namer = Namer()
    stack = tuple(
        f"{f.filename}:{f.lineno} in {namer.line_frame(f.filename, f.lineno).function}"
        for f in stat.traceback
        if not _plumbing(f.filename)
    )
    per_run = stat.size_diff / repeat
    text = "\n".join(s.rsplit(" in ", 1)[-1] for s in stack).lower()
    rule = (
        "PY-UNBOUNDED-CACHE"
        if any(w in text for w in ("cache", "memo", "lru"))
        else ("GO-GENERIC-HEAP-GROWTH")
    )
    desc = (
        f"+{stat.size_diff} B over {repeat} runs (~{per_run:.0f} B/run), +{stat.count_diff} blocks"
    )
    return Leak("memory", desc, stack, rule)


def iter_rendered(leaks: list[Leak]) -> Iterator[str]:
    """Yield each leak rendered."""
    for leak in leaks:
        yield leak.render()
