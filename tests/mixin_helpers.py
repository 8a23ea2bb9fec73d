"""The real monitoring tools for the mixin's tests: promtool, Prometheus, Alertmanager.

``tools()`` finds Debian's binaries (or ``LEAKHUNTER_PROMTOOL``,
``LEAKHUNTER_PROMETHEUS``, ``LEAKHUNTER_ALERTMANAGER``); tests marked
``@pytest.mark.prometheus`` are skipped with a clear reason when one is
missing (tests/conftest.py). ``Daemon`` runs one on loopback in its own
process group and always stops it; ``Webhook`` is the receiver Alertmanager
posts to, recording every notification.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

#: tool -> (environment override, names to look for on PATH)
_TOOLS = {
    "promtool": ("LEAKHUNTER_PROMTOOL", ("promtool",)),
    "prometheus": ("LEAKHUNTER_PROMETHEUS", ("prometheus",)),
    "alertmanager": ("LEAKHUNTER_ALERTMANAGER", ("prometheus-alertmanager", "alertmanager")),
}
MISSING_HINT = (
    "install Debian's prometheus and prometheus-alertmanager (scripts/setup.sh --test-tools "
    "does, as root) or point LEAKHUNTER_PROMTOOL / LEAKHUNTER_PROMETHEUS / "
    "LEAKHUNTER_ALERTMANAGER at the binaries"
)


def find_tool(tool: str) -> str | None:
    """Return the path of promtool, prometheus or alertmanager, or None."""
    env, names = _TOOLS[tool]
    given = os.environ.get(env)
    if given:
        return given if os.access(given, os.X_OK) else None
    return next((p for p in map(shutil.which, names) if p), None)


def missing_tools() -> list[str]:
    """Return the tools that cannot be found (empty when all are here)."""
    return [t for t in _TOOLS if find_tool(t) is None]


def tool(name: str) -> str:
    """Return a tool's path (the conftest hook has already skipped when it is missing)."""
    path = find_tool(name)
    assert path is not None, f"{name} not found: {MISSING_HINT}"
    return path


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool; return the finished process (check returncode and output)."""
    return subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def free_port() -> int:
    """Return a loopback port free right now (Prometheus wants its port before it starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Daemon:
    """A tool running in its own process group, logging to a file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str

    def output(self) -> str:
        """Return what the process logged so far (its tail)."""
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM the group, then SIGKILL it if it lingers."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_daemon(
    name: str, argv: Sequence[str], log: Path, url: str, ready: str, timeout: float = 120.0
) -> Daemon:
    """Start argv and wait until GET url+ready answers 200; stop it and fail otherwise."""
    out = log.open("wb")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    daemon = Daemon(name, proc, log, url)
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + ready, timeout=5).status_code == 200:
                return daemon
        if proc.poll() is not None or time.monotonic() > deadline:
            daemon.stop()
            raise AssertionError(f"{name} did not become ready:\n{daemon.output()}")
        time.sleep(0.2)


class Webhook:
    """An HTTP receiver on loopback that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with received.lock:
                    received.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows the test's own output

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self) -> list[dict[str, Any]]:
        """Return every alert of every notification received so far."""
        with self.lock:
            return [a for post in self.posts for a in post.get("alerts", [])]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def webhook() -> Iterator[Webhook]:
    """Run a Webhook for the duration of the block."""
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.close()
