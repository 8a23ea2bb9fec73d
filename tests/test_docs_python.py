"""docs/python.md's examples run as the page says: each service, watched by the real CLI.

Every example is started with the command the page gives (its documented port), and
``leakhunter watch`` is pointed at it the way the page does. The guard alerts are
checked and unit-tested by the real promtool.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mixin_helpers import promtool

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
PAGE = (ROOT / "docs" / "python.md").read_text()

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def service(cmd: list[str], ready: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run an example in its own process group until the ``ready`` URL answers."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready, timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"{cmd} did not answer {ready}"
            time.sleep(0.2)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def watch(url: str, snapshots: int = 6) -> tuple[int, dict[str, object]]:
    """``leakhunter watch URL --snapshots N --interval 1s --json -``: (exit code, verdict)."""
    done = subprocess.run(
        [sys.executable, "-m", "leakhunter.cli.main", "watch", url, "--snapshots",
         str(snapshots), "--interval", "1s", "--json", "-", "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode in (0, 1, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_the_page_gives_the_commands_tested_here() -> None:
    for command in (
        "python docs/examples/asyncio_service.py &",
        "uvicorn --app-dir docs/examples starlette_app:app --port 8000 &",
        "leakhunter watch http://127.0.0.1:8000/ops --snapshots 10 --interval 1s",
        "python docs/examples/wsgi_app.py &",
        "promtool test rules docs/examples/guard_alerts_test.yaml",
    ):
        assert command in PAGE, command


def test_the_asyncio_service_drops_what_its_slow_sink_cannot_take() -> None:
    cmd = [sys.executable, "docs/examples/asyncio_service.py", "120"]
    with service(cmd, "http://127.0.0.1:6060/debug/vars"):
        code, verdict = watch("http://127.0.0.1:6060")
        metrics = httpx.get("http://127.0.0.1:9100/metrics", timeout=10).text
    assert code == 0 and verdict["verdict"] == "no-leak", verdict.get("summary")
    (events,) = [g for g in verdict["guards"] if g["name"] == "events"]  # type: ignore[attr-defined]
    assert events["dropped_per_second"] > 0 and events["level"] > 0.9, events
    assert 'leakhunter_buffer_dropped_total{buffer="events"' in metrics


def test_the_starlette_app_answers_under_its_mount() -> None:
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", "docs/examples", "starlette_app:app",
           "--port", "8000"]  # fmt: skip
    with service(cmd, "http://127.0.0.1:8000/ops/debug/vars"):
        assert httpx.get("http://127.0.0.1:8000/", timeout=10).json() == {"hello": "world"}
        _, verdict = watch("http://127.0.0.1:8000/ops")
    assert verdict["snapshots"] == 6 and verdict["verdict"] != "leak", verdict.get("summary")


def test_the_wsgi_app_dispatches_debug_to_the_agent() -> None:
    with service([sys.executable, "docs/examples/wsgi_app.py"], "http://127.0.0.1:8001/"):
        assert httpx.get("http://127.0.0.1:8001/", timeout=10).text == "hello\n"
        _, verdict = watch("http://127.0.0.1:8001")
    assert verdict["snapshots"] == 6 and verdict["verdict"] != "leak", verdict.get("summary")


@pytest.mark.prometheus
def test_the_guard_alerts_pass_promtool() -> None:
    checked = promtool("check", "rules", "guard_alerts.yaml", cwd=EXAMPLES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "guard_alerts_test.yaml", cwd=EXAMPLES)
    assert tested.returncode == 0, tested.stdout + tested.stderr
