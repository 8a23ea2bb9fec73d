"""docs/monitoring.md, run: every block of the walkthrough is executed or validated.

Each fenced block of the page has a ``<!-- test: ... -->`` comment above it
(the page's last section documents the grammar): ``file NAME`` blocks are
written and parsed, ``run`` blocks run in bash and must succeed,
``background NAME`` blocks start serve, Prometheus or Alertmanager, ``skip``
blocks are only parsed for leakhunter options. The walkthrough runs in a
temporary directory with loopback stand-ins substituted for what a team has:
free ports for serve (9480), Prometheus (9090) and Alertmanager (9093); a
simulated Go service for 127.0.0.1:6060 and a closed port for 127.0.0.1:6061;
local receivers for the Slack webhook and for Pyroscope. The Slack receiver
must get serve's own ``down`` message and Alertmanager's test page; the
Pyroscope receiver the profiles of the live service.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from leakhunter.cli.main import _commands, build_parser
from mixin_helpers import find_tool, free_port
from pyroscope_receiver import Receiver
from serve_helpers import simulated_targets, wait_for

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "monitoring.md"
SLACK = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
PYROSCOPE = "http://pyroscope.internal:4040"
_MARK = re.compile(r"^<!-- test: (.+?) -->$")
_KINDS = ("file", "run", "background", "skip")


@dataclass(frozen=True)
class Block:
    """One fenced block of the page and what its marker says to do with it."""

    line: int
    lang: str
    text: str
    kind: str
    arg: str
    needs: tuple[str, ...]
    retry: bool


def blocks() -> list[Block]:
    """Return every fenced block of the page with its marker (AssertionError when unmarked)."""
    lines = DOC.read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        start, lang = i, lines[i][3:].strip()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        prev = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        m = _MARK.match(prev.strip())
        assert m, f"docs/monitoring.md:{start + 1}: a block without a <!-- test: ... --> marker"
        words = m.group(1).split()
        needs = next((w[6:].split(",") for w in words if w.startswith("needs=")), [])
        rest = [w for w in words[1:] if not w.startswith("needs=") and w != "retry"]
        assert words[0] in _KINDS, f"docs/monitoring.md:{start}: unknown marker {words[0]!r}"
        out.append(
            Block(start + 1, lang, "\n".join(lines[start + 1 : end]), words[0],
                  " ".join(rest), tuple(needs), "retry" in words)
        )  # fmt: skip
        i = end + 1
    return out


def commands(text: str) -> list[list[str]]:
    """Return the leakhunter command lines of a shell block, as argv lists."""
    logical = text.replace("\\\n", " ").splitlines()
    argvs = [shlex.split(line, comments=True) for line in logical]
    return [a[1:] for a in argvs if a and a[0] == "leakhunter"]


def test_every_block_is_marked_and_every_file_and_option_is_valid() -> None:
    found = blocks()
    assert len(found) >= 15
    for b in found:
        where = f"docs/monitoring.md:{b.line}"
        if b.kind == "skip":
            assert b.arg.startswith("(") and b.arg.endswith(")"), f"{where}: skip needs (reason)"
        if b.kind == "file":
            assert b.arg and yaml.safe_load(b.text), f"{where}: {b.arg} must parse as YAML"
        if b.kind in ("run", "background") or b.lang == "sh":
            for argv in commands(b.text):
                parser = build_parser(_commands(argv))
                try:
                    parser.parse_args(argv)
                except SystemExit as exc:
                    if exc.code != 0:  # --version exits 0
                        raise AssertionError(f"{where}: leakhunter {shlex.join(argv)}") from None
    text = DOC.read_text()
    for path in re.findall(r"\.\./(deploy/[\w./-]+)", text) + ["deploy/kubernetes/"]:
        assert (ROOT / path).exists(), path
    for link in re.findall(r"\]\(([\w-]+\.md)", text):
        assert (DOC.parent / link).exists(), link


class Slack:
    """A stand-in for Slack's incoming webhooks: records the JSON posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with contextlib.suppress(ValueError):
                    outer.bodies.append(json.loads(data))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.url = SLACK.replace("https://hooks.slack.com", f"http://127.0.0.1:{port}")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        """Return every message flattened to text (serve's text, Alertmanager's attachments)."""
        return [json.dumps(b) for b in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tools(bin_dir: Path) -> set[str]:
    """Put leakhunter and the monitoring tools found on a PATH directory; return the missing."""
    shim = bin_dir / "leakhunter"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m leakhunter "$@"\n')
    shim.chmod(0o755)
    found = {
        "promtool": find_tool("promtool"),
        "prometheus": find_tool("prometheus"),
        "alertmanager": find_tool("alertmanager"),
        "amtool": shutil.which("amtool"),
    }
    for name, path in found.items():
        if path:
            (bin_dir / name).symlink_to(path)
    return {name for name, path in found.items() if not path}


class Walkthrough:
    """Runs the page's blocks in order in one directory; stops what it started."""

    def __init__(self, cwd: Path, env: dict[str, str], subs: dict[str, str], missing: set[str]):
        self.cwd, self.env, self.subs, self.missing = cwd, env, subs, missing
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.skipped: list[str] = []

    def text(self, b: Block) -> str:
        out = b.text
        for old, new in self.subs.items():
            out = out.replace(old, new)
        return out

    def do(self, b: Block) -> None:
        lacking = sorted(set(b.needs) & self.missing)
        if lacking:
            self.skipped.append(f"line {b.line} ({', '.join(lacking)})")
            return
        if b.kind == "file":
            path = self.cwd / b.arg
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.text(b) + "\n")
            assert yaml.safe_load(path.read_text())
        elif b.kind == "run":
            self.run(b)
        elif b.kind == "background":
            self.stop(b.arg)
            log = (self.cwd / f"{b.arg}.log").open("ab")
            self.running[b.arg] = subprocess.Popen(
                ["bash", "-c", "exec " + self.text(b)], cwd=self.cwd, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            log.close()

    def run(self, b: Block) -> None:
        deadline = time.monotonic() + (90 if b.retry else 0)
        while True:
            done = subprocess.run(
                ["bash", "-e", "-c", self.text(b)], cwd=self.cwd, env=self.env,
                capture_output=True, text=True, timeout=180,
            )  # fmt: skip
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                logs = {p.name: p.read_text()[-2000:] for p in self.cwd.glob("*.log")}
                raise AssertionError(
                    f"docs/monitoring.md:{b.line} failed ({done.returncode}):\n{done.stdout}\n"
                    f"{done.stderr}\nlogs: {logs}"
                )
            time.sleep(2)

    def stop(self, name: str) -> None:
        proc = self.running.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def close(self) -> None:
        for name in list(self.running):
            self.stop(name)


@contextlib.contextmanager
def stand_ins() -> Iterator[tuple[Slack, Receiver, str]]:
    """Run the Slack and Pyroscope receivers and one simulated Go service."""
    slack, pyroscope = Slack(), Receiver()
    try:
        with simulated_targets().simulated(1, 1, local=True) as fleet:
            yield slack, pyroscope, fleet.targets[0][0]
    finally:
        slack.close()
        pyroscope.close()


@pytest.mark.slow
def test_the_walkthrough_runs(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    missing = _tools(bin_dir)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", HOME=str(tmp_path))
    with stand_ins() as (slack, pyroscope, live):
        ports = {p: str(free_port()) for p in ("9480", "9090", "9093")}
        subs = {f"127.0.0.1:{p}": f"127.0.0.1:{q}" for p, q in ports.items()}
        subs |= {"127.0.0.1:6060": live, "127.0.0.1:6061": f"127.0.0.1:{_closed_port()}"}
        subs |= {SLACK: slack.url, PYROSCOPE: pyroscope.url}
        walk = Walkthrough(work, env, subs, missing)
        try:
            for b in blocks():
                if b.kind != "skip":
                    walk.do(b)
            wait_for(
                "serve's own Slack message: ledger is down",
                slack.texts,
                lambda ts: any("*down*" in t and "service_name=ledger" in t for t in ts),
                90,
            )
            if not missing & {"amtool", "alertmanager"}:
                wait_for(
                    "Alertmanager's test page in Slack",
                    slack.texts,
                    lambda ts: any(
                        "LeakhunterLeakDetected" in t and "attachments" in t for t in ts
                    ),
                    90,
                )
            got = wait_for(
                "checkout's profiles in Pyroscope",
                pyroscope.accepted,
                lambda a: {p.labels["__name__"] for p in a} >= {"memory", "goroutine"},
                90,
            )
        finally:
            walk.close()
    assert {p.labels["service_name"] for p in got} == {"checkout"}
    assert {r.headers.get("x-scope-orgid") for r in pyroscope.requests} == {"payments"}
    assert (work / "deploy/kubernetes/prometheusrule.yaml").read_text() == (
        ROOT / "deploy/kubernetes/prometheusrule.yaml"
    ).read_text()
    logs = "".join(p.read_text() for p in work.glob("*.log"))
    assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in logs and "CHANGE-ME" not in logs
    assert "Traceback" not in logs
    if walk.skipped:
        pytest.skip(f"{', '.join(sorted(missing))} not found: blocks at {walk.skipped} not run")
