"""leakhunter's in-process agent: pprof-compatible leak endpoints for Python services.

    import leakhunter.agent
    agent = leakhunter.agent.start(port=6060)   # then: leakhunter watch http://127.0.0.1:6060

``start()`` serves from a background thread; ``asgi_app()``/``wsgi_app()`` mount the
same endpoints in a FastAPI/Starlette or Flask app. ``/debug/pprof/heap`` is a
type census (cheap, always on) or, with ``trace=True`` or ``?seconds=N``, live
memory per tracemalloc allocation stack; ``?debug=1`` ends with exact process
totals in ``runtime.MemStats`` form. ``/debug/pprof/goroutine`` lists asyncio
tasks (await chains) and threads in Go's debug=0/1/2 formats.
"""

from __future__ import annotations

import asyncio
import contextlib

from leakhunter.agent.core import AgentCore, Response
from leakhunter.agent.routines import Routine, RoutineTracker, task_state, thread_state
from leakhunter.agent.server import Agent, asgi_app, wsgi_app

__all__ = [
    "Agent",
    "AgentCore",
    "Response",
    "Routine",
    "RoutineTracker",
    "asgi_app",
    "start",
    "task_state",
    "thread_state",
    "wsgi_app",
]


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    trace: bool = False,
    trace_frames: int = 16,
    memory_limit: int | None = None,
) -> Agent:
    """Start the agent's HTTP server on a background thread and return it (``.port``, ``.url``).

    Called from inside a running event loop, that loop's tasks are listed;
    loops running in other threads are found from their frames at each scrape.
    """
    core = AgentCore(trace=trace, trace_frames=trace_frames, memory_limit=memory_limit)
    agent = Agent(core, host, port)
    with contextlib.suppress(RuntimeError):
        agent.add_loop(asyncio.get_running_loop())
    return agent
