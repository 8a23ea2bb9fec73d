"""A keeper for one shell command of `check`: its whole process tree ends with it, or with us.

``python -m leakhunter._supervise PARENT_PID COMMAND`` runs COMMAND through
/bin/sh and stays between leakhunter and it. A process group is not enough to
contain a service: ``setsid ./server`` leaves the group (a stop missed it and
its inherited pipes hung leakhunter), and PR_SET_PDEATHSIG reaches only the
shell, not what a compound command (``cd x && ./server``) starts. So the keeper
is a child subreaper (orphans of the tree are reparented to it, whatever
session they move to) with the parent-death signal set: when the command
exits, when it is told to stop (SIGTERM, SIGINT, SIGHUP), or when leakhunter
dies (even by kill -9), it kills every descendant, then exits the way the
shell did. Linux only; elsewhere `check` runs the shell directly.

Imports stay minimal (no leakhunter package code): it starts for every command.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_GRACE = 3.0


class _Stop(Exception):
    """A stop signal arrived."""


def _on_signal(signum: int, frame: object) -> None:
    raise _Stop


def descendants(root: int) -> list[int]:
    """Return the pids of every live descendant of root (from /proc), deepest first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    out: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, ()):
            out.append(child)
            todo.append(child)
    return out[::-1]


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def kill_tree(grace: float = _GRACE) -> None:
    """SIGTERM every descendant, then SIGKILL what is left after grace seconds."""
    me = os.getpid()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in descendants(me):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        end = time.monotonic() + (grace if sig == signal.SIGTERM else 1.0)
        while time.monotonic() < end:
            _reap()
            if not descendants(me):
                return
            time.sleep(0.05)


def main(argv: list[str]) -> int:
    """Run the command, keep its tree, and return (or re-raise) the shell's exit status."""
    parent, command = int(argv[1]), argv[2]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(stop, _on_signal)
    status = 0
    try:
        if os.getppid() != parent:
            raise _Stop  # leakhunter died before the death signal was armed
        shell = os.fork()
        if shell == 0:  # pragma: no cover - the child's side
            for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(stop, signal.SIG_DFL)
            os.execv("/bin/sh", ["sh", "-c", command])
        while True:
            pid, status = os.waitpid(-1, 0)  # reaps orphans of the tree too
            if pid == shell:
                break
    except _Stop:
        status = int(signal.SIGTERM)  # a wait status: as if killed by it
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        kill_tree()
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    sig: int = os.WTERMSIG(status) if os.WIFSIGNALED(status) else int(signal.SIGTERM)
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    return 128 + sig  # pragma: no cover - the signal ends the process first


if __name__ == "__main__":
    sys.exit(main(sys.argv))
