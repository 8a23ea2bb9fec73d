"""The target's process as the kernel sees it: found by its port, read from /proc and cgroups."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakhunter.collect.metrics_text import process_figures
from leakhunter.collect.procfs import listener_pid, memory_limit, process_stats

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")

SERVER = """
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
files = [open(sys.executable, "rb") for _ in range(int(sys.argv[1]))]
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[str], int]]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, "7"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield proc, port
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_listener_of_a_port_is_found(server: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = server
    assert listener_pid(port) == proc.pid


def test_a_port_nobody_listens_on_has_no_process() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening
        assert listener_pid(port) is None


def test_process_figures_from_proc(server: tuple[subprocess.Popen[str], int]) -> None:
    proc, _ = server
    st = process_stats(proc.pid)
    assert st is not None
    assert st.rss is not None and st.rss > 1 << 20
    # stdin/stdout/stderr, the socket and the 7 files it opened (at least)
    assert st.open_fds is not None and st.open_fds >= 11
    assert st.max_fds is not None and st.max_fds >= st.open_fds
    assert process_stats(2**22 + 12345) is None


def _memory_cgroup() -> Path | None:
    """A writable memory cgroup root (v2 first), or None where none can be made."""
    for root in (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup")):
        usable = (root / "cgroup.procs").exists() and os.access(root, os.W_OK)
        if usable and (root.name == "memory" or "memory" in _text(root / "cgroup.subtree_control")):
            return root
    return None


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_the_cgroup_memory_limit_is_found(server: tuple[subprocess.Popen[str], int]) -> None:
    proc, _ = server
    root = _memory_cgroup()
    if root is None or os.geteuid() != 0:
        pytest.skip("no writable memory cgroup here (needs root and a cgroup filesystem)")
    group = root / f"leakhunter-test-{os.getpid()}"
    try:
        group.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot create a cgroup here: {exc}")
    try:
        leaf = "memory.max" if (group / "memory.max").exists() else "memory.limit_in_bytes"
        (group / leaf).write_text(str(384 << 20))
        (group / "cgroup.procs").write_text(str(proc.pid))
        assert memory_limit(proc.pid) == 384 << 20
        st = process_stats(proc.pid)
        assert st is not None and st.memory_limit == 384 << 20
    finally:
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while group.exists() and time.monotonic() < deadline:
            try:
                group.rmdir()
            except OSError:
                time.sleep(0.1)


def test_metrics_pages_give_process_figures() -> None:
    from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

    reg = CollectorRegistry()
    ProcessCollector(registry=reg)
    figures = process_figures(generate_latest(reg).decode())
    assert figures["open_fds"] > 0 and figures["max_fds"] >= figures["open_fds"]
    assert figures["rss"] > 1 << 20
    assert process_figures("not a metrics page {{{") == {}
    assert process_figures("process_open_fds NaN\nprocess_max_fds 1e300\n") == {}
