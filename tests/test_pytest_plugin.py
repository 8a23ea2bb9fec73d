"""The pytest plugin on passing and failing example suites (pytester, in-process)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import asyncio, functools, socket, threading
import pytest

KEEP = []
GROWTH = []

def teardown_module():
    # Clean up for real: a pending task finalised by a GC pass inside compile()
    # trips CPython 3.11's "AST constructor recursion depth mismatch".
    for item in KEEP:
        if isinstance(item, tuple):
            loop, task = item
            task.cancel()
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
            loop.close()
        else:
            item.close()
    KEEP.clear()

@pytest.mark.no_leaks
def test_clean_thread():
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()

@pytest.mark.no_leaks
def test_clean_asyncio():
    async def main():
        q = asyncio.Queue()
        t = asyncio.create_task(q.get())
        q.put_nowait(1)
        await t
    asyncio.run(main())

@pytest.mark.no_leaks(grace=0.2)
def test_thread_never_joined():
    ev = threading.Event()
    threading.Thread(target=ev.wait, daemon=True, name="watchdog").start()

@pytest.mark.no_leaks(fds=False, grace=0.2)
def test_task_on_queue_nobody_feeds():
    loop = asyncio.new_event_loop()
    q = asyncio.Queue()
    async def confirm():
        await q.get()
    task = loop.create_task(confirm())
    loop.run_until_complete(asyncio.sleep(0.01))
    KEEP.append((loop, task))

@pytest.mark.no_leaks(grace=0.2)
def test_socket_not_closed():
    KEEP.append(socket.socket())

@functools.lru_cache(maxsize=3)
def avatar(n):
    return bytes(3000)

@pytest.mark.no_leaks(memory=True)
def test_warming_bounded_cache():
    for i in range(3):
        avatar(i)

@pytest.mark.no_leaks(memory=True)
def test_unbounded_growth():
    GROWTH.append(bytearray(20000))
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_suite=SUITE)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore", *args)


@pytest.mark.slow
def test_marked_tests_pass_or_fail_with_their_leaks(pytester: pytest.Pytester) -> None:
    result = _run(pytester)
    result.assert_outcomes(passed=3, failed=4)
    out = result.stdout.str()
    assert "watchdog (daemon=True) still running  [rule PY-THREAD-NEVER-JOINED]" in out
    assert "pending (queue get)" in out and "PY-TASK-QUEUE-NO-CONSUMER" in out
    assert "socket: fd" in out and "PY-SOCKET-OR-FILE-NOT-CLOSED" in out
    assert "test_suite.py:" in out and "created at" in out  # creation stacks
    assert "memory grew on every run" in out and "test_unbounded_growth" in out
    assert "leak checks on 7 test(s)" in out  # check time in the terminal summary


def test_flag_checks_unmarked_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
import threading
EV = threading.Event()
def test_leaks_a_thread():
    threading.Thread(target=EV.wait, daemon=True).start()
def teardown_module():
    EV.set()
def test_fine():
    pass
"""
    )
    quiet = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    quiet.assert_outcomes(passed=2)
    checked = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--leakhunter")
    checked.assert_outcomes(passed=1, failed=1)
    assert "PY-THREAD-NEVER-JOINED" in checked.stdout.str()


def test_unknown_marker_arguments_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
import pytest
@pytest.mark.no_leaks(sockets_please=True)
def test_x():
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert "sockets_please" in result.stdout.str() + result.stderr.str()
