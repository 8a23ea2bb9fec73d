"""Class 9 of issue 15: `check` and services that leave its process group; a failing load."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_helpers import env, lh
from leakhunter.collect.process import Child

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux keeper"),
]

SERVICE = """
import os, sys, time
from leakhunter.harness.fake import FakeGoTarget, Reply
t = FakeGoTarget()
t.routes["/debug/pprof/"] = lambda r: Reply(body=b"ok")
print("listening on", t.url, flush=True)
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(3600)
"""

SLEEPER = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(3600)"


def alive(pid: int) -> bool:
    """Return True while pid runs (a zombie no longer counts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def wait_for(what, timeout: float = 120.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if what():
            return True
        time.sleep(0.05)
    return False


def _pid(path: Path) -> int:
    assert wait_for(lambda: path.exists() and path.read_text().strip()), "service never started"
    return int(path.read_text())


@pytest.fixture
def service(tmp_path: Path) -> str:
    script = tmp_path / "svc.py"
    script.write_text(SERVICE)
    return f"{sys.executable} {script}"


def test_a_service_that_leaves_the_group_neither_hangs_check_nor_survives_it(
    service: str, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    proc = lh(
        "check",
        "--cmd",
        f"setsid {service} {pidfile}",
        "--duration",
        "2s",
        "--interval",
        "1s",
        "--out",
        str(tmp_path / "s"),
        "--allow-inconclusive",
        timeout=90,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    pid = _pid(pidfile)
    assert wait_for(lambda: not alive(pid), 60), "the setsid'ed service outlived check"


def test_kill_9_of_check_takes_a_compound_service_down(service: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    session = tmp_path / "s"
    with subprocess.Popen(
        [sys.executable, "-m", "leakhunter", "check", "--cmd"]
        + [f"cd {tmp_path} && {service} {pidfile}", "--duration", "60s", "--out", str(session)],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as check:
        pid = _pid(pidfile)
        assert wait_for(lambda: (session / "manifest.json").exists()), "the watch never began"
        check.send_signal(signal.SIGKILL)
        check.wait()
    assert wait_for(lambda: not alive(pid), 60), "the service outlived a kill -9 of check"


def test_a_failing_load_is_blamed_not_the_target(service: str, tmp_path: Path) -> None:
    proc = lh(
        "check",
        "--cmd",
        f"{service} {tmp_path / 'pid'}",
        "--load",
        "false",
        "--duration",
        "3s",
        "--interval",
        "1s",
        "--out",
        str(tmp_path / "s"),
        timeout=90,
    )
    assert proc.returncode == 2
    assert "the load failed" in proc.stderr, proc.stderr[-2000:]
    assert "no snapshot could be taken" not in proc.stderr


_SHAPES = st.sampled_from(
    [
        "{cmd}",
        "cd /tmp && {cmd}",
        "setsid {cmd}",
        "{cmd} & wait",
        "(setsid {cmd} &) ; sleep 3600",
        "sh -c 'setsid {cmd} & sleep 3600'",
        "setsid sh -c '{cmd}; true'",
    ]
)


@settings(
    max_examples=7,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(shape=_SHAPES, how=st.sampled_from(["stop", "kill-shell"]))
def test_no_shape_of_command_outlives_its_stop(tmp_path: Path, shape: str, how: str) -> None:
    pidfile = tmp_path / f"pid-{time.monotonic_ns()}"
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text(SLEEPER)
    child = Child(shape.format(cmd=f"{sys.executable} {sleeper} {pidfile}"), "service")
    pid = _pid(pidfile)
    if how == "kill-shell":
        child.proc.send_signal(signal.SIGTERM)  # the keeper (or shell) goes first
    child.stop(grace=5)
    assert wait_for(lambda: not alive(pid), 60), f"{shape!r} outlived its stop"
