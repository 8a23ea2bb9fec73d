"""Run `leakhunter serve` as a real process and wait on its state (never on time alone).

``serving`` starts ``python -m leakhunter serve`` in its own process group,
reads the address it prints, and yields a handle; on exit the process gets
SIGTERM (then SIGKILL). ``wait_for`` polls a condition on serve's API until it
holds or a generous deadline passes, and then fails with the last state seen,
so a slow, loaded machine only makes a test slower, never red.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
_ADDR = re.compile(r"watching \d+ target\(s\); (http://[^/ ]+)/")


@dataclass
class Serving:
    """A running serve: its base URL, process and the file its stdout goes to."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Return what serve printed so far."""
        return self.log.read_text(errors="replace")

    def api(self, path: str = "/api/targets", token: str | None = None) -> Any:
        """GET a JSON document from serve."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = httpx.get(self.url + path, timeout=30, headers=headers)
        r.raise_for_status()
        return r.json()

    def target(self, url: str) -> dict[str, Any]:
        """Return the /api/targets entry of a target URL."""
        for t in self.api()["targets"]:
            if t["target"] == url:
                return dict(t)
        raise AssertionError(f"{url} is not among serve's targets")


def write_targets(path: Path, groups: Sequence[dict[str, Any]]) -> Path:
    """Write a file_sd JSON file (atomically, as a config tool would)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(list(groups)))
    tmp.replace(path)
    return path


def hostport(url: str) -> str:
    """Return host:port of a target URL (file_sd lists targets without a scheme)."""
    return url.split("://", 1)[-1].rstrip("/")


@contextlib.contextmanager
def serving(args: Sequence[str], log: Path, timeout: float = 60.0) -> Iterator[Serving]:
    """Start serve with args (plus --listen 127.0.0.1:0 unless given); stop it on exit."""
    cmd = [sys.executable, "-m", "leakhunter", "serve", *args]
    if "--listen" not in args:
        cmd += ["--listen", "127.0.0.1:0"]
    out = log.open("wb")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout
        url = None
        while url is None:
            m = _ADDR.search(log.read_text(errors="replace"))
            if m:
                url = m.group(1)
            elif proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start: {log.read_text(errors='replace')}")
            else:
                time.sleep(0.1)
        yield Serving(url, proc, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.close()


def wait_for(what: str, probe: Callable[[], T], ok: Callable[[T], bool], timeout: float) -> T:
    """Poll probe until ok(result); fail with the last result after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        try:
            last = probe()
            if ok(last):
                return last
        except (httpx.HTTPError, AssertionError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last state: {last!r}")
        time.sleep(0.5)


def simulated_targets() -> ModuleType:
    """Return bench/serve_targets.py (simulated Go targets replaying recorded zoo sessions)."""
    path = Path(__file__).resolve().parent.parent / "bench" / "serve_targets.py"
    spec = importlib.util.spec_from_file_location("serve_targets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("serve_targets", module)
    spec.loader.exec_module(module)
    return module
