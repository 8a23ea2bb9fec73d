"""leakhunter's in-process agent: pprof-compatible leak endpoints for Python services.

    import leakhunter.agent
    agent = leakhunter.agent.start(port=6060)   # then: leakhunter watch http://127.0.0.1:6060

``start()`` serves from a background thread; ``asgi_app()``/``wsgi_app()`` mount the
same endpoints in a FastAPI/Starlette or Flask app. ``/debug/pprof/heap`` is a
type census (cheap, always on) or, with ``trace=True`` or ``?seconds=N``, live
memory per tracemalloc allocation stack; ``?debug=1`` ends with exact process
totals in ``runtime.MemStats`` form. ``/debug/pprof/goroutine`` lists asyncio
tasks (await chains) and threads in Go's debug=0/1/2 formats. ``/debug/vars``
carries the figures of named ``leakhunter.guard`` buffers and pools.
``start(self_watch=True)`` also judges the process itself on a schedule and
exports serve's metrics (``leakhunter.agent.selfwatch``). docs/python.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from leakhunter.agent.core import AgentCore, Response
from leakhunter.agent.routines import Routine, RoutineTracker, task_state, thread_state
from leakhunter.agent.server import Agent, asgi_app, wsgi_app

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

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
    port: int | None = 0,
    *,
    trace: bool = False,
    trace_frames: int = 16,
    memory_limit: int | None = None,
    self_watch: bool = False,
    self_watch_interval: float = 60.0,
    quiet_period: float = 300.0,
    registry: CollectorRegistry | None = None,
) -> Agent:
    """Start the agent's HTTP server on a background thread and return it (``.port``, ``.url``).

    Called from inside a running event loop, that loop's tasks are listed;
    loops running in other threads are found from their frames at each scrape.
    ``port=None`` serves nothing (with ``self_watch``, for a process nobody can
    reach). ``self_watch`` judges the process itself every ``self_watch_interval``
    seconds with watch's analysis and exports serve's ``leakhunter_*`` metrics in
    ``registry`` (prometheus-client's default one unless given); see
    ``leakhunter.agent.selfwatch``.
    """
    core = AgentCore(trace=trace, trace_frames=trace_frames, memory_limit=memory_limit)
    agent = Agent(core, host, port)
    with contextlib.suppress(RuntimeError):
        agent.add_loop(asyncio.get_running_loop())
    if self_watch:
        from leakhunter.agent.selfwatch import SelfWatch

        core.self_watch = SelfWatch(
            core, interval=self_watch_interval, quiet_period=quiet_period, registry=registry
        )
    return agent
