"""Run one zoo scenario as a child process that cannot outlive its harness.

The child runs in its own process group (so stopping it also stops anything it
spawned), is stopped by SIGTERM then SIGKILL on exit of the ``with`` block or
of the interpreter (atexit), and on Linux gets PR_SET_PDEATHSIG=SIGKILL so even
``kill -9`` of the harness takes it down. Caveat of PDEATHSIG: it fires when the
*thread* that started the child ends, so start and stop a scenario on one thread.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from leakhunter.collect.process import pump as _pump
from leakhunter.collect.process import spawn
from leakhunter.errors import LeakhunterError
from leakhunter.harness.build import build_zoo, zoo_dir

__all__ = ["RunningScenario", "ZooStartError", "start"]

_LISTENING = re.compile(r"^listening on (\S+:(\d+))\s*$")


class ZooStartError(LeakhunterError):
    """A scenario process died or did not announce its address in time."""


class RunningScenario:
    """A started zoo scenario: its pprof URL, pid and recent stderr; a context manager."""

    def __init__(self, scenario: str, process: subprocess.Popen[str], timeout: float) -> None:
        self.scenario = scenario
        self.process = process
        self.pid = process.pid
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stdout_lines: list[str] = []
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=_pump, args=(process.stderr, self._stderr.append), daemon=True),
        ]
        for t in self._threads:
            t.start()
        atexit.register(self.stop)
        try:
            self.addr = self._await_address(timeout)
        except BaseException:
            self.stop()
            raise
        self.port = int(self.addr.rsplit(":", 1)[1])
        self.url = f"http://{self.addr}"

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        _pump(self.process.stdout, self._on_stdout)
        self._lines.put(None)

    def _on_stdout(self, line: str) -> None:
        if len(self.stdout_lines) < 1000:
            self.stdout_lines.append(line)
        self._lines.put(line)

    def _await_address(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ZooStartError(
                    f"zoo scenario {self.scenario} did not print its address within "
                    f"{timeout:g}s{self._tail_note()}"
                )
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                code = self.process.wait()
                time.sleep(0.05)  # let the stderr pump catch the last lines
                raise ZooStartError(
                    f"zoo scenario {self.scenario} exited with status {code} before "
                    f"listening{self._tail_note()}"
                )
            match = _LISTENING.match(line)
            if match:
                return match.group(1)

    def _tail_note(self) -> str:
        tail = self.stderr_tail
        return f"; stderr:\n{tail}" if tail else " (no stderr output)"

    @property
    def stderr_tail(self) -> str:
        """Return the last lines the scenario wrote to stderr."""
        return "\n".join(self._stderr)

    @property
    def running(self) -> bool:
        """Return True while the process is alive."""
        return self.process.poll() is None

    def stop(self, grace: float = 5.0) -> int | None:
        """Stop the process group: SIGTERM, wait ``grace`` s, then SIGKILL; return its status."""
        atexit.unregister(self.stop)
        proc = self.process
        if proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group, if any
        for t in self._threads:
            t.join(timeout=2.0)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return proc.poll()

    def __enter__(self) -> RunningScenario:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.process.returncode}"
        return f"<RunningScenario {self.scenario} pid={self.pid} {self.url} {state}>"


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _python_module(scenario: str) -> str | None:
    """Return the module of a Python zoo scenario (None for the Go zoo's scenarios)."""
    from leakhunter.harness.manifest import find_scenario

    entry = find_scenario(scenario)
    return entry.module if entry is not None and entry.runtime == "python" else None


def _python_env() -> dict[str, str]:
    """Return the environment of a Python scenario: zoo/python first on PYTHONPATH."""
    env = dict(os.environ)
    path = str(zoo_dir() / "python")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def start(
    scenario: str,
    *,
    duration: float = 60.0,
    linger: float = 600.0,
    rate: float | None = None,
    scale: float | None = None,
    addr: str = "127.0.0.1:0",
    extra_args: Sequence[str] = (),
    binary: str | Path | None = None,
    timeout: float = 30.0,
) -> RunningScenario:
    """Start a zoo scenario and return once it serves pprof (use as a context manager).

    ``duration`` is how long the scenario drives load; it then keeps serving for
    ``linger`` seconds. ``addr`` fixes the listen address (e.g. to restart a
    target on the same port). The binary is built on demand unless given;
    a Python scenario (``runtime = "python"`` in the manifest) runs its module
    with this interpreter instead and needs no Go.

    Raises:
        GoNotFoundError, ZooBuildError: the zoo cannot be built.
        ZooStartError: the process died or stayed silent for ``timeout`` seconds.
    """
    python = _python_module(scenario)
    env: dict[str, str] | None = None
    if python is not None:
        exe = sys.executable
        cmd = [exe, "-m", python, "-addr", addr]
        env = _python_env()
    else:
        exe = str(binary) if binary is not None else str(build_zoo())
        cmd = [exe, "-scenario", scenario, "-addr", addr]
    cmd += ["-duration", _seconds(duration), "-linger", _seconds(linger)]
    if rate is not None:
        cmd += ["-rate", f"{rate:g}"]
    if scale is not None:
        cmd += ["-scale", f"{scale:g}"]
    cmd += list(extra_args)
    try:
        process = spawn(cmd, env=env)
    except OSError as exc:
        raise ZooStartError(f"cannot start {exe}: {exc.strerror}") from None
    return RunningScenario(scenario, process, timeout)
