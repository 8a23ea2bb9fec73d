"""Harness tests that need no Go: manifest, build hashing, process control with a fake binary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from leakhunter.errors import FormatError
from leakhunter.harness import build as build_mod
from leakhunter.harness.build import GoNotFoundError, build_zoo, find_go, source_hash
from leakhunter.harness.manifest import load_manifest
from leakhunter.harness.run import ZooStartError, start


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _wait_dead(pid: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _fake_zoo(tmp_path: Path, body: str) -> Path:
    """A stand-in zoo binary: a Python script with the given body."""
    path = tmp_path / "fakezoo"
    path.write_text(
        f"#!{sys.executable}\nimport os, signal, socket, sys, time\n" + textwrap.dedent(body)
    )
    path.chmod(0o755)
    return path


SERVING = """
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print("scenario starting", flush=True)
print("stderr says hi", file=sys.stderr, flush=True)
print(f"listening on 127.0.0.1:{s.getsockname()[1]}", flush=True)
time.sleep(60)
"""


def test_manifest_merges_files(tmp_path: Path) -> None:
    (tmp_path / "manifest").mkdir()
    (tmp_path / "scenarios.toml").write_text(
        '[[scenario]]\nname = "a"\nverdict = "leak"\ngrows = ["heap"]\nrule = ""\n'
    )
    (tmp_path / "manifest" / "x.toml").write_text(
        '[[scenario]]\nname = "a"\nverdict = "no-leak"\n\n'
        '[[scenario]]\nname = "b"\nfamily = "control"\nverdict = "no-leak"\n'
        'kinds = []\nculprits = ["main.f"]\nrule = "GO-X"\nstory = "s"\n'
    )
    a, b = load_manifest(tmp_path)
    assert (a.name, a.verdict, a.grows, a.rule) == ("a", "leak", ("heap",), None)
    assert (b.name, b.family, b.culprits, b.rule, b.is_control) == (
        "b",
        "control",
        ("main.f",),
        "GO-X",
        True,
    )


@pytest.mark.parametrize(
    "text", ["[[scenario]]\nverdict = 'leak'\n", "[[scenario]]\nname='x'\nverdict='maybe'\n", "[["]
)
def test_manifest_errors(tmp_path: Path, text: str) -> None:
    (tmp_path / "scenarios.toml").write_text(text)
    with pytest.raises(FormatError):
        load_manifest(tmp_path)


def test_repo_manifest_loads() -> None:
    scenarios = load_manifest()
    assert len({s.name for s in scenarios}) == len(scenarios)


def test_source_hash_tracks_built_files_only(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module x\n")
    (tmp_path / "cmd").mkdir()
    (tmp_path / "cmd" / "main.go").write_text("package main\n")
    h1 = source_hash(tmp_path, "go1.26.0")
    (tmp_path / "_scratch").mkdir()
    (tmp_path / "_scratch" / "x.go").write_text("package x\n")
    (tmp_path / "cmd" / "main_test.go").write_text("package main\n")
    (tmp_path / "README.md").write_text("hi\n")
    assert source_hash(tmp_path, "go1.26.0") == h1
    assert source_hash(tmp_path, "go1.27.0") != h1
    (tmp_path / "cmd" / "main.go").write_text("package main // changed\n")
    assert source_hash(tmp_path, "go1.26.0") != h1


def test_missing_go_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKHUNTER_GO", "/nonexistent/go")
    with pytest.raises(GoNotFoundError, match="Go toolchain not found"):
        find_go()
    with pytest.raises(GoNotFoundError):
        build_zoo()
    monkeypatch.delenv("LEAKHUNTER_GO")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(build_mod.os, "access", lambda p, m: False)
    with pytest.raises(GoNotFoundError, match="put `go` on PATH"):
        find_go()


def test_start_reads_address_and_stops_group(tmp_path: Path) -> None:
    exe = _fake_zoo(tmp_path, SERVING)
    with start("demo", binary=exe, timeout=60) as run:
        assert run.url.startswith("http://127.0.0.1:") and run.port > 0
        assert run.running and run.stdout_lines[0] == "scenario starting"
        pid = run.pid
        assert os.getpgid(pid) == pid  # its own process group
    assert _wait_dead(pid)
    assert "stderr says hi" in run.stderr_tail


def test_start_passes_arguments(tmp_path: Path) -> None:
    exe = _fake_zoo(
        tmp_path,
        'print("listening on 127.0.0.1:1", flush=True)\n'
        'print(" ".join(sys.argv[1:]), flush=True)\ntime.sleep(30)\n',
    )
    with start(
        "x",
        binary=exe,
        duration=12,
        linger=3,
        rate=50,
        scale=2,
        addr="127.0.0.1:7",
        extra_args=("-memprofilerate", "1"),
    ) as run:
        deadline = time.monotonic() + 60
        while len(run.stdout_lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert run.stdout_lines[1] == (
        "-scenario x -addr 127.0.0.1:7 -duration 12s -linger 3s -rate 50 -scale 2 -memprofilerate 1"
    )


def test_start_failure_shows_stderr(tmp_path: Path) -> None:
    exe = _fake_zoo(
        tmp_path, 'print("zoo: unknown scenario \\"nope\\"", file=sys.stderr)\nsys.exit(2)\n'
    )
    with pytest.raises(ZooStartError, match=r'exited with status 2.*\n.*unknown scenario "nope"'):
        start("nope", binary=exe, timeout=60)


def test_start_timeout(tmp_path: Path) -> None:
    # A shell script, not Python: its stderr line is out long before the deadline even on
    # a loaded machine (a Python child could still be importing when 0.5 s ran out).
    exe = tmp_path / "slowzoo"
    pidfile = tmp_path / "pid"
    exe.write_text(f"#!/bin/sh\necho $$ > {pidfile}\necho still booting >&2\nexec sleep 30\n")
    exe.chmod(0o755)
    # start gives up at its deadline; had it waited for the child instead, the error
    # would say it exited (after 30 s), not that it stayed silent
    with pytest.raises(
        ZooStartError, match="(?s)did not print its address within 2s.*still booting"
    ):
        start("slow", binary=exe, timeout=2)
    assert _wait_dead(int(pidfile.read_text())), "the silent zoo outlived its failed start"


def test_sigterm_ignored_gets_sigkill(tmp_path: Path) -> None:
    exe = _fake_zoo(tmp_path, "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SERVING)
    run = start("stubborn", binary=exe, timeout=60)
    # it ignores SIGTERM and would sleep 60 s: only the SIGKILL after the grace ends it
    assert run.stop(grace=0.3) == -signal.SIGKILL


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_child_dies_with_harness_killed_9(tmp_path: Path) -> None:
    exe = _fake_zoo(tmp_path, SERVING)
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(f"""
        import time
        from leakhunter.harness.run import start
        run = start("demo", binary={str(exe)!r}, timeout=60)
        print(run.pid, flush=True)
        time.sleep(60)
    """)
    )
    proc = subprocess.Popen([sys.executable, str(driver)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        assert _alive(child)
        proc.kill()
        proc.wait()
        assert _wait_dead(child), "zoo child outlived its harness"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_demo_session_and_pack_round_trip(tmp_path: Path) -> None:
    from leakhunter.collect.session import load_session
    from leakhunter.harness.recorded import demo_session, pack_session, unpack_session

    with demo_session() as (path, info):
        assert "unbounded-map-cache" in info and "20 snapshots" in info
        packed = pack_session(path, tmp_path / "s.tar.gz")
    assert packed.read_bytes() == pack_session(path, tmp_path / "again.tar.gz").read_bytes()
    out = unpack_session(packed.read_bytes(), tmp_path / "x")
    assert len(load_session(out).snapshots) == 20
    with pytest.raises(Exception, match="no recorded session"), demo_session("nope"):
        pass
