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

Each record is (code object, line, creator routine id), kept in a weak map so a
finished task or thread takes its record with it. The cost is one short frame
walk per creation; tasks and threads made before the agent started have none.
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

__all__ = ["Creation", "CreatorLog"]

#: (code of the creating function, line, id of the creating routine or None)
Creation = tuple[CodeType, int, int | None]

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__)
_THREADING_FILE = threading.__file__
_MAX_WALK = 16
_COMPREHENSIONS = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"})

_TaskFactory = Callable[..., "asyncio.Future[Any]"]


def _caller(frame: FrameType | None) -> FrameType | None:
    """Skip asyncio's and threading's own frames up to the code that asked for the routine.

    Comprehension frames (their own functions before Python 3.12) are skipped
    too: the function holding ``[create_task(...) for ...]`` is the creator.
    """
    for _ in range(_MAX_WALK):
        if frame is None:
            return None
        name = frame.f_code.co_filename
        plumbing = name.startswith(_ASYNCIO_DIR) or name in (_THREADING_FILE, __file__)
        if not plumbing and frame.f_code.co_name not in _COMPREHENSIONS:
            return frame
        frame = frame.f_back
    return frame


class CreatorLog:
    """Creation records of tasks and threads, keyed weakly by the routine object.

    ``routine_id`` maps the creating task or thread to the id the dumps print
    (the tracker's), so ``created by ... in goroutine N`` names a real routine.
    """

    def __init__(self, routine_id: Callable[[object], int]) -> None:
        self._routine_id = routine_id
        self._records: weakref.WeakKeyDictionary[object, Creation] = weakref.WeakKeyDictionary()
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.enabled = True

    def get(self, routine: object) -> Creation | None:
        """Return where ``routine`` (a task or thread) was created, if it was seen."""
        return self._records.get(routine)

    def note(self, routine: object, frame: FrameType | None) -> None:
        """Record that ``routine`` is being created by the code at ``frame`` (or above it)."""
        if not self.enabled:
            return
        site = _caller(frame)
        if site is None:
            return
        creator: object | None = None
        try:
            creator = asyncio.current_task()
        except RuntimeError:
            creator = None
        if creator is None:
            creator = threading.current_thread()
        with contextlib.suppress(TypeError):  # not weak-referenceable: no record
            self._records[routine] = (site.f_code, site.f_lineno, self._routine_id(creator))

    def watch_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Record the creator of every task ``loop`` makes from now on (once per loop)."""
        with self._lock:
            if loop in self._loops or loop.is_closed():
                return
            self._loops.add(loop)
        previous: _TaskFactory | None = loop.get_task_factory()
        log = self

        def factory(
            loop: asyncio.AbstractEventLoop,
            coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
            **kwargs: Any,
        ) -> asyncio.Future[Any]:
            if previous is not None:
                task = previous(loop, coro, **kwargs)
            else:
                task = asyncio.Task(coro, loop=loop, **kwargs)
            log.note(task, sys._getframe(1))
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
