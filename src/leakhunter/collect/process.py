"""Child processes that cannot outlive us: the service and load commands of `check`.

Each command runs through the shell in its own session (so stopping it stops
everything it spawned), with PR_SET_PDEATHSIG on Linux so even a kill -9 of
leakhunter takes it down, and its output pumped into bounded buffers: the last
stderr lines are what a failure message shows. On Linux a `check` command runs
under leakhunter._supervise, which also catches what leaves the session
(``setsid``) and what a compound command starts, and ends it all with the
command or with leakhunter.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

from leakhunter.errors import TargetError

__all__ = ["Child", "deathsig_hook", "pump", "spawn"]

_PR_SET_PDEATHSIG = 1
_ADDRESS = (
    re.compile(r"listening on (?:https?://)?(\S+:\d+)"),
    re.compile(r"(https?://(?:127\.0\.0\.1|localhost|\[::1\]):\d+)"),
    re.compile(r"\b((?:127\.0\.0\.1|localhost):\d+)\b"),
)


def deathsig_hook() -> Callable[[], None] | None:
    """Return a preexec_fn setting PR_SET_PDEATHSIG=SIGKILL, or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return hook


def spawn(
    command: str | list[str],
    *,
    shell: bool = False,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[str]:
    """Start a child the way every service here is started.

    Its own session (so a stop can signal its whole group), no stdin, text
    stdout and stderr pipes, and killed with us on Linux (PR_SET_PDEATHSIG).

    Raises:
        OSError: the command cannot be started.
    """
    return subprocess.Popen(
        command,
        shell=shell,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
        preexec_fn=deathsig_hook(),  # noqa: PLW1509 - only sets the death signal
        env=env,
        cwd=cwd,
    )


def pump(stream: IO[str], sink: Callable[[str], None]) -> None:
    """Copy lines of a child's stream into sink until EOF."""
    with contextlib.suppress(ValueError, OSError):
        for line in stream:
            sink(line.rstrip("\n"))


_SUPERVISED = sys.platform.startswith("linux")


def _kept(command: str) -> list[str]:
    """Return the argv that runs command under the keeper (leakhunter._supervise)."""
    return [sys.executable, "-m", "leakhunter._supervise", str(os.getpid()), command]


class Child:
    """A shell command running in its own session; stopped on stop() or at exit."""

    def __init__(self, command: str, role: str) -> None:
        self.command, self.role = command, role
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.err: collections.deque[str] = collections.deque(maxlen=40)
        try:
            self.proc = spawn(_kept(command)) if _SUPERVISED else spawn(command, shell=True)
        except OSError as exc:
            raise TargetError(f"cannot start the {role} command: {exc.strerror}") from None
        self._pumps = [
            threading.Thread(target=pump, args=(stream, sink), daemon=True)
            for stream, sink in (
                (self.proc.stdout, self.lines.append),
                (self.proc.stderr, self._err),
            )
        ]
        for thread in self._pumps:
            thread.start()

    def _err(self, line: str) -> None:
        self.err.append(line)
        self.lines.append(line)

    def poll(self) -> int | None:
        """Return the exit code, or None while running."""
        return self.proc.poll()

    def stderr_tail(self, n: int = 15) -> str:
        """Return the last lines of stderr, indented, for a failure message."""
        tail = list(self.err)[-n:]
        return "\n".join("    " + line for line in tail) if tail else "    (no stderr output)"

    def died(self) -> str:
        """Describe an exit of the child, with the tail of its stderr."""
        code = self.proc.poll()
        how = (
            f"was killed by signal {-code}"
            if code is not None and code < 0
            else (f"exited with code {code}")
        )
        return f"the {self.role} command {how}; last lines of its stderr:\n{self.stderr_tail()}"

    def find_address(self, timeout: float) -> str:
        """Wait for the child to print its listening address; return a base URL."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            lines = list(self.lines)
            for line in lines[seen:]:
                for pattern in _ADDRESS:
                    m = pattern.search(line)
                    if m:
                        addr = m.group(1)
                        return addr if "://" in addr else f"http://{addr}"
            seen = len(lines)
            if self.poll() is not None:
                raise TargetError(self.died())
            time.sleep(0.05)
        raise TargetError(
            f"the {self.role} command printed no address within {timeout:g} s "
            "(give --url, or have it print 'listening on HOST:PORT')"
        )

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the child's process group, then SIGKILL after grace seconds."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(grace)
        # the shell may be gone while something it started still runs in the group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        # A pipe is closed only once its pump saw EOF: while a stray process still
        # holds it (one the keeper could not reach), the pump blocks in a read and
        # close() would wait for it forever. Such a pipe goes with our process.
        for thread, stream in zip(self._pumps, (self.proc.stdout, self.proc.stderr), strict=True):
            thread.join(timeout=2.0)
            if stream is not None and not thread.is_alive():
                with contextlib.suppress(OSError):
                    stream.close()
