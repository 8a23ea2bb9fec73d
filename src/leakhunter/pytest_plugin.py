"""pytest plugin: fail tests that leak asyncio tasks, threads, descriptors or memory.

Registered through the ``pytest11`` entry point. ``@pytest.mark.no_leaks`` checks
one test; ``--leakhunter`` checks every test. Marker keywords: ``tasks``,
``threads``, ``fds`` (bools, default True), ``memory`` (default False: repeats
the body ``repeat`` times per round, ``retries`` extra rounds, fails on growth of
at least ``min_bytes`` after every run of every round), ``grace`` (seconds to let
things finish, default 1.0). The baseline is taken after fixtures are set up, so
what fixtures own is not a leak. Each failure lists the leaked items with their
creation stacks and the matching rule; the terminal summary reports check time.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

from leakhunter.agent.leakcheck import Leak, ResourceWatch, memory_growth

__all__ = ["LeakOptions"]

_TIMES = pytest.StashKey[dict[str, float]]()


@dataclass(frozen=True, slots=True)
class LeakOptions:
    """What to check for one test (from the marker's keywords)."""

    tasks: bool = True
    threads: bool = True
    fds: bool = True
    memory: bool = False
    repeat: int = 5
    retries: int = 2
    min_bytes: int = 512
    grace: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--leakhunter`` (check every test) and ``--leakhunter-memory``."""
    group = parser.getgroup("leakhunter", "leak checks (leakhunter)")
    group.addoption(
        "--leakhunter",
        action="store_true",
        default=False,
        help="check every test for leaked asyncio tasks, threads and file descriptors",
    )
    group.addoption(
        "--leakhunter-memory",
        action="store_true",
        default=False,
        help="with --leakhunter, also repeat each test to check for memory growth (slow)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and the per-run timing table."""
    config.addinivalue_line(
        "markers",
        "no_leaks(tasks=True, threads=True, fds=True, memory=False, repeat=5, retries=2, "
        "min_bytes=512, grace=1.0): fail the test if it leaks (leakhunter)",
    )
    config.stash[_TIMES] = {}


def _options(item: pytest.Item) -> LeakOptions | None:
    marker = item.get_closest_marker("no_leaks")
    if marker is None:
        if not item.config.getoption("--leakhunter", False):
            return None
        return LeakOptions(memory=bool(item.config.getoption("--leakhunter-memory", False)))
    known = set(LeakOptions.__dataclass_fields__) - {"extra"}
    unknown = set(marker.kwargs) - known
    if unknown or marker.args:
        raise pytest.UsageError(f"no_leaks: unknown arguments {sorted(unknown) or marker.args}")
    return LeakOptions(**marker.kwargs)


def _fail(item: pytest.Item, leaks: list[Leak]) -> None:
    head = f"leakhunter: {item.nodeid} leaked {len(leaks)} item(s)"
    pytest.fail("\n".join([head, *(leak.render() for leak in leaks)]), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Take the baseline after setup, run the test, then list what it left behind."""
    opts = _options(item)
    if opts is None or not (opts.tasks or opts.threads or opts.fds):
        return (yield)
    watch = ResourceWatch(tasks=opts.tasks, threads=opts.threads, fds=opts.fds)
    t0 = time.perf_counter()
    watch.start()
    spent = time.perf_counter() - t0
    try:
        result = yield
    finally:
        t1 = time.perf_counter()
        leaks = watch.leaks(opts.grace)
        watch.stop()
        spent += time.perf_counter() - t1
        times = item.config.stash[_TIMES]
        times[item.nodeid] = times.get(item.nodeid, 0.0) + spent
    if leaks:
        _fail(item, leaks)
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """With memory checks on, run the body repeatedly and fail on monotone growth."""
    opts = _options(pyfuncitem)
    func = pyfuncitem.obj
    if opts is None or not opts.memory or inspect.iscoroutinefunction(func):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    args = {name: pyfuncitem.funcargs[name] for name in names}
    t0 = time.perf_counter()
    ran = [0.0]

    def body() -> None:
        s = time.perf_counter()
        func(**args)
        ran[0] += time.perf_counter() - s

    verdict = memory_growth(
        body, repeat=opts.repeat, retries=opts.retries, min_bytes=opts.min_bytes
    )
    times = pyfuncitem.config.stash[_TIMES]
    spent = time.perf_counter() - t0 - ran[0]
    times[pyfuncitem.nodeid] = times.get(pyfuncitem.nodeid, 0.0) + spent
    if verdict.growing:
        samples = ", ".join(str(s) for s in verdict.samples)
        leaks = list(verdict.leaks)
        head = f"leakhunter: {pyfuncitem.nodeid} memory grew on every run ({samples} bytes)"
        pytest.fail("\n".join([head, *(leak.render() for leak in leaks)]), pytrace=False)
    return True


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Report how long the leak checks took, in total and for the slowest tests."""
    times = config.stash.get(_TIMES, {})
    if not times:
        return
    total = sum(times.values())
    tr = terminalreporter
    tr.write_sep("-", "leakhunter")
    tr.write_line(f"leak checks on {len(times)} test(s): {total * 1000:.1f} ms in total")
    for nodeid, spent in sorted(times.items(), key=lambda kv: -kv[1])[:5]:
        tr.write_line(f"  {spent * 1000:8.1f} ms  {nodeid}")
