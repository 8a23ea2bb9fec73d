"""End-to-end: `leakhunter watch` on real zoo services, a restart mid-watch, kill -9, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakhunter.harness.run import start

pytestmark = [pytest.mark.go, pytest.mark.slow]

LEAK = "chan-receive-no-sender"
CONTROL = "idle-worker-pool"


def leakhunter(*args: str) -> list[str]:
    return [sys.executable, "-m", "leakhunter.cli.main", *args]


def committed(out: Path) -> int:
    """Snapshots the watcher has committed to its session folder so far."""
    return len(list(out.glob("0*.json"))) if out.is_dir() else 0


def await_committed(out: Path, n: int, watcher: subprocess.Popen[str] | None = None) -> None:
    """Wait (up to a generous 120 s, not a fixed time) until n snapshots are committed."""
    deadline = time.monotonic() + 120
    while committed(out) < n and time.monotonic() < deadline:
        if watcher is not None and watcher.poll() is not None:
            break
        time.sleep(0.05)
    assert committed(out) >= n, f"only {committed(out)} of {n} snapshots committed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_watch_a_leak_exits_1_with_verdict(zoo_binary: Path, tmp_path: Path) -> None:
    with start(LEAK, duration=60, binary=zoo_binary) as svc:
        out = tmp_path / "session"
        proc = subprocess.run(
            leakhunter(
                "watch",
                svc.url,
                "--snapshots",
                "10",
                "--interval",
                "0.7",
                "--out",
                str(out),
                "--json",
                str(tmp_path / "v.json"),
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["verdict"] == "leak" and doc["snapshots"] == 10
    assert "snapshot 10/10" in proc.stderr  # plain progress lines when not on a TTY
    assert "LEAK" in proc.stdout
    assert (out / "manifest.json").exists()
    assert len(list(out.glob("0*.json"))) == 10


def test_watch_a_control_exits_0(zoo_binary: Path, tmp_path: Path) -> None:
    with start(CONTROL, duration=60, binary=zoo_binary) as svc:
        proc = subprocess.run(
            leakhunter(
                "watch",
                svc.url,
                "--snapshots",
                "10",
                "--interval",
                "0.7",
                "--out",
                str(tmp_path / "s"),
                "--quiet",
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("no-leak")


def test_target_restart_mid_watch_splits_the_series(zoo_binary: Path, tmp_path: Path) -> None:
    port = free_port()
    addr = f"127.0.0.1:{port}"
    out = tmp_path / "session"
    first = start(LEAK, duration=60, addr=addr, binary=zoo_binary)
    watcher = subprocess.Popen(
        leakhunter(
            "watch",
            f"http://{addr}",
            "--snapshots",
            "24",
            "--interval",
            "0.6",
            "--retries",
            "5",
            "--out",
            str(out),
            "--json",
            str(tmp_path / "v.json"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # a run behind it first: three snapshots of the first process, however long the
        # watcher took to start (on a loaded machine a fixed sleep could see none)
        await_committed(out, 3, watcher)
        first.stop()
        second = start(LEAK, duration=60, addr=addr, binary=zoo_binary)
        with second:
            stdout, stderr = watcher.communicate(timeout=120)
    finally:
        first.stop()
        if watcher.poll() is None:
            watcher.kill()
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["restarts"] >= 1, stderr
    assert any("restarted" in n for n in doc["notes"])
    epochs = {json.loads(p.read_text())["epoch"] for p in out.glob("0*.json")}
    assert len(epochs) >= 2
    # the leak is judged within the second run only, and still found
    assert watcher.returncode == 1, stdout + stderr


def test_kill_9_of_the_watcher_loses_at_most_one_snapshot(zoo_binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "session"
    with start(LEAK, duration=60, binary=zoo_binary) as svc:
        watcher = subprocess.Popen(
            leakhunter(
                "watch", svc.url, "--snapshots", "100", "--interval", "0.4", "--out", str(out)
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            await_committed(out, 6, watcher)
        finally:
            watcher.send_signal(signal.SIGKILL)
            watcher.wait(timeout=60)
    committed = sorted(out.glob("0*.json"))
    assert len(committed) >= 6
    proc = subprocess.run(
        leakhunter("analyze", str(out), "--json", "-"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["snapshots"] == len(committed)


def test_ctrl_c_stops_collection_and_still_judges(zoo_binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    with start(LEAK, duration=60, binary=zoo_binary) as svc:
        watcher = subprocess.Popen(
            leakhunter(
                "watch",
                svc.url,
                "--snapshots",
                "100",
                "--interval",
                "0.5",
                "--out",
                str(out),
                "--quiet",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # the evidence a plain watch judges on (10 snapshots), however slow they came
            await_committed(out, 10, watcher)
        finally:
            watcher.send_signal(signal.SIGINT)
        stdout, stderr = watcher.communicate(timeout=60)
    assert "stopping" in stderr
    assert "Traceback" not in stderr
    assert watcher.returncode == 1, stdout + stderr
    assert stdout.startswith("leak")


def test_unreachable_target_is_one_line_and_exit_2(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.run(
        leakhunter(
            "watch",
            f"http://127.0.0.1:{port}",
            "--snapshots",
            "2",
            "--interval",
            "0.2",
            "--retries",
            "0",
            "--out",
            str(tmp_path / "s"),
        ),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("leakhunter:") and "Traceback" not in proc.stderr
