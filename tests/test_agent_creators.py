"""Creation records: agent-made tasks keep theirs in a slot; a user's task factory is wrapped."""

from __future__ import annotations

import asyncio
from typing import Any

from leakhunter.agent import RoutineTracker
from leakhunter.agent._names import Namer
from leakhunter.agent.creators import Task


async def _idle(ev: asyncio.Event) -> None:
    await ev.wait()


async def _handler(ev: asyncio.Event, out: list[asyncio.Task[None]]) -> None:
    out.append(asyncio.create_task(_idle(ev)))  # the line the record must name
    await ev.wait()


def _run(tracker: RoutineTracker, factory: Any = None) -> tuple[list[Any], list[Any]]:
    async def main() -> tuple[list[Any], list[Any]]:
        loop = asyncio.get_running_loop()
        if factory is not None:
            loop.set_task_factory(factory)
        tracker.add_loop(loop)
        ev = asyncio.Event()
        children: list[asyncio.Task[None]] = []
        handler = asyncio.create_task(_handler(ev, children))
        await asyncio.sleep(0.01)
        snap = [r for r in tracker.snapshot() if r.kind == "task"]
        ev.set()
        await handler
        return [handler, *children], snap

    return asyncio.run(main())


def test_agent_tasks_carry_their_record_and_id() -> None:
    tracker = RoutineTracker(Namer())
    (handler, child), snap = _run(tracker)
    assert type(handler) is Task and type(child) is Task
    assert child._leakhunter_created is not None
    record = tracker.creators.get(child)  # the stored offset, read as a line
    assert record is not None
    code, line, creator = record
    assert code.co_name == "_handler"
    assert line == _handler.__code__.co_firstlineno + 1
    assert creator == handler._leakhunter_id  # the handler task, by the id the dumps print
    [row] = [r for r in snap if any(f.function.endswith("_idle") for f in r.frames)]
    assert row.created_by is not None and row.created_by.function.endswith("_handler")
    assert row.creator == handler._leakhunter_id == tracker._id(handler)
    assert not tracker.creators._records  # nothing in the weak map


def test_a_users_task_factory_is_kept_and_its_tasks_noted() -> None:
    made: list[asyncio.Task[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kw)
        made.append(task)
        return task

    tracker = RoutineTracker(Namer())
    (handler, child), snap = _run(tracker, factory)
    assert handler in made and child in made  # the user's factory still makes the tasks
    assert type(child) is asyncio.Task
    record = tracker.creators.get(child)
    assert record is not None and record[0].co_name == "_handler"
    assert record[2] == tracker._id(handler)
    [row] = [r for r in snap if any(f.function.endswith("_idle") for f in r.frames)]
    assert row.created_by is not None and row.created_by.function.endswith("_handler")
