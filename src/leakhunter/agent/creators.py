"""Where each asyncio task and thread was created: Go's ``created by X in goroutine N``.

A leaked task parks in its own coroutine (``watch_confirmation`` on
``queue.get()``), while the memory it holds was allocated by the request handler
that spawned it (``place_order``). Go dumps name that handler in the
``created by`` line, and the analysis links heap and goroutine findings through
it. Python keeps no such record, so the agent writes one at creation time:

* tasks, through the event loop's task factory (wrapping any factory already
  set), installed when the agent first sees the loop;
* threads, through a wrapper of ``threading.Thread.start`` installed once per
  process.

Each record is (code object, instruction offset, creator routine id), the
offset turned into a line only when a dump asks (``f_lineno`` decodes the line
table on every call; ``f_lasti`` is a field). A task made by the agent's
factory keeps its record and its own routine id in slots of its own
(``Task``), so they go with the task; threads and tasks from a factory the
agent wraps are kept in a weak map instead. The cost is a short frame walk per
creation, ~1 us (which code objects are plumbing is cached by object
identity: hashing a code object rehashes its constants); tasks and threads
made before the agent started have none.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine, Generator
from types import CodeType, FrameType
from typing import Any

__all__ = ["Creation", "CreatorLog", "Task", "line_of"]

#: (code of the creating function, line, id of the creating routine or None)
Creation = tuple[CodeType, int, int | None]
#: what is stored: the same, with the instruction offset (``f_lasti``) for the line
_Record = tuple[CodeType, int, int | None]

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__)
_THREADING_FILE = threading.__file__
_MAX_WALK = 16
_MAX_CODES = 4096
_COMPREHENSIONS = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"})

_TaskFactory = Callable[..., "asyncio.Future[Any]"]


def _is_plumbing(code: CodeType) -> bool:
    """Tell whether a frame running ``code`` is asyncio's or threading's own, or the agent's.

    Comprehension frames (their own functions before Python 3.12) are skipped
    too: the function holding ``[create_task(...) for ...]`` is the creator.
    """
    name = code.co_filename
    own = name.startswith(_ASYNCIO_DIR) or name in (_THREADING_FILE, __file__)
    return own or code.co_name in _COMPREHENSIONS


def line_of(code: CodeType, offset: int) -> int:
    """Return the source line of the instruction at byte ``offset`` of ``code``."""
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


class Task(asyncio.Task):  # type: ignore[type-arg]
    """The tasks the agent's task factory makes: asyncio's, with two slots of its own.

    Keeping the creation record and the routine id on the task itself costs a
    slot store per task; a weak map costs ~2 us per task in Python-level
    ``WeakKeyDictionary`` code, which doubled the cost of a short task.
    """

    __slots__ = ("_leakhunter_created", "_leakhunter_id")
    _leakhunter_created: _Record | None
    _leakhunter_id: int


class CreatorLog:
    """Creation records of tasks and threads, kept on the task or in a weak map.

    ``routine_id`` maps the creating task or thread to the id the dumps print
    (the tracker's), so ``created by ... in goroutine N`` names a real routine;
    ``next_id`` hands out the ids the agent's own tasks get at creation.
    """

    def __init__(
        self, routine_id: Callable[[object], int], next_id: Callable[[], int] | None = None
    ) -> None:
        self._routine_id = routine_id
        self._next_id = next_id or itertools.count(1).__next__
        self._records: weakref.WeakKeyDictionary[object, _Record] = weakref.WeakKeyDictionary()
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._lock = threading.Lock()
        # id(code) -> (code, is plumbing): keyed by identity, as hashing a code object
        # rehashes its constants (~1 us for a large function)
        self._plumbing: dict[int, tuple[CodeType, bool]] = {}
        # the last creator that is not an agent task (often the one server task
        # spawning every request's tasks) and its id: a weak map costs ~2 us a look-up
        self._last_foreign: tuple[weakref.ref[object], int] | None = None
        self.enabled = True

    def get(self, routine: object) -> Creation | None:
        """Return where ``routine`` (a task or thread) was created, if it was seen."""
        record: _Record | None = getattr(routine, "_leakhunter_created", None)
        if record is None:
            record = self._records.get(routine)
        if record is None:
            return None
        code, offset, creator = record
        return code, line_of(code, offset), creator

    def _creator_id(self, creator: object) -> int:
        if type(creator) is Task:
            rid: int | None = getattr(creator, "_leakhunter_id", None)
            if rid is not None:
                return rid
        last = self._last_foreign
        if last is not None and last[0]() is creator:
            return last[1]
        rid = self._routine_id(creator)
        with contextlib.suppress(TypeError):  # not weak-referenceable: not cached
            self._last_foreign = (weakref.ref(creator), rid)
        return rid

    def site(
        self, frame: FrameType, loop: asyncio.AbstractEventLoop | None = None
    ) -> _Record | None:
        """Return the creation record for a routine being created at ``frame`` (or above it).

        ``loop``, when given, is the loop creating a task: its current task is the creator.
        """
        plumbing = self._plumbing
        for _ in range(_MAX_WALK):
            code = frame.f_code
            hit = plumbing.get(id(code))
            if hit is None or hit[0] is not code:
                if len(plumbing) >= _MAX_CODES:  # code made at run time (exec): stay bounded
                    plumbing.clear()
                hit = plumbing[id(code)] = (code, _is_plumbing(code))
            if not hit[1]:
                break
            back = frame.f_back
            if back is None:
                return None
            frame = back
        # _get_running_loop answers None where get_running_loop raises: a thread
        # start outside any loop must not pay for an exception (~3 us)
        loop = loop or asyncio._get_running_loop()
        creator: object | None = asyncio.current_task(loop) if loop is not None else None
        if creator is None:
            creator = threading.current_thread()
        return frame.f_code, frame.f_lasti, self._creator_id(creator)

    def note(self, routine: object, frame: FrameType | None) -> None:
        """Record that ``routine`` is being created by the code at ``frame`` (or above it)."""
        if not self.enabled or frame is None:
            return
        record = self.site(frame)
        if record is None:
            return
        with contextlib.suppress(TypeError):  # not weak-referenceable: no record
            self._records[routine] = record

    def watch_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Record the creator of every task ``loop`` makes from now on (once per loop).

        With no task factory set, the agent's makes a ``Task`` holding its own
        record and id; a factory already there is wrapped, its tasks noted in the weak map.
        """
        with self._lock:
            if loop in self._loops or loop.is_closed():
                return
            self._loops.add(loop)
        previous: _TaskFactory | None = loop.get_task_factory()
        log = self
        getframe = sys._getframe
        next_id = self._next_id

        def factory(
            loop: asyncio.AbstractEventLoop,
            coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
            **kwargs: Any,
        ) -> asyncio.Future[Any]:
            if previous is not None:
                made = previous(loop, coro, **kwargs)
                log.note(made, getframe(1))
                return made
            task = Task(coro, loop=loop, **kwargs)
            task._leakhunter_id = next_id()
            task._leakhunter_created = log.site(getframe(1), loop) if log.enabled else None
            return task

        loop.set_task_factory(factory)

    def close(self) -> None:
        """Stop recording (the hooks stay installed but do nothing for this log)."""
        self.enabled = False
        _THREAD_LOGS.discard(self)

    def watch_threads(self) -> None:
        """Record the creator of every thread started from now on (process-wide, once)."""
        _THREAD_LOGS.add(self)
        with _INSTALL_LOCK:
            if getattr(threading.Thread.start, "_leakhunter", False):
                return
            original = threading.Thread.start

            def start(thread: threading.Thread) -> None:
                frame = sys._getframe(1)
                for log in list(_THREAD_LOGS):
                    log.note(thread, frame)
                original(thread)

            start._leakhunter = True  # type: ignore[attr-defined]
            threading.Thread.start = start  # type: ignore[method-assign,assignment]


_THREAD_LOGS: weakref.WeakSet[CreatorLog] = weakref.WeakSet()
_INSTALL_LOCK = threading.Lock()
