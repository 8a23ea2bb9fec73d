"""What the kernel says about a target process on this host: RSS, open files, limits.

pprof cannot see a container's memory limit, the resident set the OOM killer
counts, or file descriptors. When the target runs on this host (leakhunter
started it, or it listens on a local address), ``/proc`` and the cgroup
filesystem can: the listening socket's inode names the process, and the
process's cgroup names its memory limit (v2 ``memory.max``, v1
``memory.limit_in_bytes``; the tightest limit on the way up counts).
Linux only; everywhere else every function answers None.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessStats", "listener_pid", "memory_limit", "process_stats"]

_PROC = Path("/proc")
_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a page-rounded 2^63 - 1
_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


@dataclass(frozen=True, slots=True)
class ProcessStats:
    """One reading of a process: resident memory, descriptors and their limits."""

    pid: int
    rss: int | None = None  # bytes (VmRSS)
    open_fds: int | None = None
    max_fds: int | None = None  # soft limit (RLIMIT_NOFILE)
    memory_limit: int | None = None  # bytes, the cgroup's (None: unlimited or unknown)

    def to_json(self) -> dict[str, int]:
        """Return the known figures as the session record keeps them."""
        out = {
            "pid": self.pid,
            "rss": self.rss,
            "open_fds": self.open_fds,
            "max_fds": self.max_fds,
            "memory_limit": self.memory_limit,
        }
        return {k: v for k, v in out.items() if v is not None}


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _socket_inodes(port: int) -> set[str]:
    """Return the inodes of sockets listening on a TCP port (IPv4 and IPv6)."""
    inodes = set()
    for name in ("tcp", "tcp6"):
        text = _read(_PROC / "net" / name) or ""
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or parts[3] != _LISTEN:
                continue
            local = parts[1]
            if int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def listener_pid(port: int) -> int | None:
    """Return the pid of the process listening on a local TCP port (None if not found)."""
    inodes = _socket_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    try:
        pids = [int(p.name) for p in _PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return None
    for pid in sorted(pids):
        with contextlib.suppress(OSError), os.scandir(_PROC / str(pid) / "fd") as fds:
            for fd in fds:
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in wanted:
                        return pid
    return None


def _cgroup_mounts() -> dict[str, Path]:
    """Return the mount point of each cgroup hierarchy: "memory" (v1), "" (v2)."""
    mounts: dict[str, Path] = {}
    for line in (_read(_PROC / "self" / "mountinfo") or "").splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or not rest:
            continue
        if rest[0] == "cgroup2":
            mounts.setdefault("", Path(fields[4]))
        elif rest[0] == "cgroup" and len(rest) >= 3 and "memory" in rest[2].split(","):
            mounts.setdefault("memory", Path(fields[4]))
    return mounts


def _limit_value(text: str | None) -> int | None:
    if text is None:
        return None
    value = text.strip()
    if value == "max" or not value.isdigit():
        return None
    n = int(value)
    return None if n >= _UNLIMITED else n


def memory_limit(pid: int) -> int | None:
    """Return the tightest cgroup memory limit over a process (None: none or unknown)."""
    mounts = _cgroup_mounts()
    best: int | None = None
    for line in (_read(_PROC / str(pid) / "cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "" and "" in mounts:
            root, leaf = mounts[""], "memory.max"
        elif "memory" in controllers.split(",") and "memory" in mounts:
            root, leaf = mounts["memory"], "memory.limit_in_bytes"
        else:
            continue
        here = Path(path.lstrip("/"))
        for part in (here, *here.parents):
            n = _limit_value(_read(root / part / leaf))
            if n is not None and (best is None or n < best):
                best = n
    return best


def _status_rss(pid: int) -> int | None:
    for line in (_read(_PROC / str(pid) / "status") or "").splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return None


def _max_fds(pid: int) -> int | None:
    for line in (_read(_PROC / str(pid) / "limits") or "").splitlines():
        if line.startswith("Max open files"):
            soft = line.split()[3]
            return int(soft) if soft.isdigit() else None
    return None


def process_stats(pid: int) -> ProcessStats | None:
    """Read one process now (None when it is gone or cannot be read)."""
    try:
        with os.scandir(_PROC / str(pid) / "fd") as entries:
            fds = sum(1 for _ in entries)
    except OSError:
        return None
    return ProcessStats(
        pid=pid,
        rss=_status_rss(pid),
        open_fds=fds,
        max_fds=_max_fds(pid),
        memory_limit=memory_limit(pid),
    )
