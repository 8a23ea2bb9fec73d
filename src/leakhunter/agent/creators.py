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

Each record is (code object, line, creator routine id). A task made by the
agent's factory keeps its record in a slot of its own (``Task``), so it goes
with the task; threads and tasks from a factory the agent wraps are kept in a
weak map instead. The cost is one short frame walk per creation (~1 us, which
code objects are plumbing is cached); tasks and threads made before the agent
started have none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine, Generator
from types import CodeType, FrameType
from typing import Any

__all__ = ["Creation", "CreatorLog", "Task"]

#: (code of the creating function, line, id of the creating routine or None)
Creation = tuple[CodeType, int, int | None]

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


class Task(asyncio.Task):  # type: ignore[type-arg]
    """The tasks the agent's task factory makes: asyncio's, with two slots of its own.

    Keeping the creation record and the routine id on the task itself costs a
    slot store per task; a weak map costs ~2 us per task in Python-level
    ``WeakKeyDictionary`` code, which doubled the cost of a short task.
    """

    __slots__ = ("_leakhunter_created", "_leakhunter_id")
    _leakhunter_created: Creation | None
    _leakhunter_id: int


class CreatorLog:
    """Creation records of tasks and threads, kept on the task or in a weak map.

    ``routine_id`` maps the creating task or thread to the id the dumps print
    (the tracker's), so ``created by ... in goroutine N`` names a real routine.
    """

    def __init__(self, routine_id: Callable[[object], int]) -> None:
        self._routine_id = routine_id
        self._records: weakref.WeakKeyDictionary[object, Creation] = weakref.WeakKeyDictionary()
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._plumbing: dict[CodeType, bool] = {}
        self.enabled = True

    def get(self, routine: object) -> Creation | None:
        """Return where ``routine`` (a task or thread) was created, if it was seen."""
        record: Creation | None = getattr(routine, "_leakhunter_created", None)
        return record if record is not None else self._records.get(routine)

    def site(
        self, frame: FrameType, loop: asyncio.AbstractEventLoop | None = None
    ) -> Creation | None:
        """Return the creation record for a routine being created at ``frame`` (or above it).

        ``loop``, when given, is the loop creating a task: its current task is the creator.
        """
        plumbing = self._plumbing
        for _ in range(_MAX_WALK):
            code = frame.f_code
            skip = plumbing.get(code)
            if skip is None:
                if len(plumbing) >= _MAX_CODES:  # code made at run time (exec): stay bounded
                    plumbing.clear()
                skip = plumbing[code] = _is_plumbing(code)
            if not skip:
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
        return frame.f_code, frame.f_lineno, self._routine_id(creator)

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
        record; a factory already there is wrapped, its tasks noted in the weak map.
        """
        with self._lock:
            if loop in self._loops or loop.is_closed():
                return
            self._loops.add(loop)
        previous: _TaskFactory | None = loop.get_task_factory()
        log = self
        getframe = sys._getframe

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
