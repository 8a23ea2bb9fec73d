"""serve's security rules, on a real serve process over real HTTP (no Go needed).

Off loopback it needs a token; with one, everything but the health checks
(and /metrics unless protected) asks for it; secrets of targets (URL
passwords, bearer tokens, headers) never reach its output, database, files,
API or metric labels.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from serve_helpers import serving, wait_for, write_targets

SECRET = "s3cr3t-Pa55w0rd-xyz"


def _serve_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakhunter", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_listening_off_loopback_needs_a_token(tmp_path: Path) -> None:
    targets = write_targets(tmp_path / "t.json", [{"targets": ["127.0.0.1:9"]}])
    r = _serve_cmd("--targets", str(targets), "--listen", "0.0.0.0:0", "--data", str(tmp_path))
    assert r.returncode == 2
    assert "--token-file" in r.stderr and "Traceback" not in r.stderr


def test_no_targets_is_a_usage_error(tmp_path: Path) -> None:
    r = _serve_cmd("--data", str(tmp_path))
    assert r.returncode == 2 and "needs targets" in r.stderr


def test_a_bad_targets_file_at_start_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text('{"targets": "not a list"}')
    r = _serve_cmd("--targets", str(bad), "--data", str(tmp_path / "d"), "--listen", "127.0.0.1:0")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert str(bad) in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_the_token_guards_the_api_and_secrets_never_leak(tmp_path: Path) -> None:
    token_file = tmp_path / "serve.token"
    token_file.write_text("serve-token-123\n")
    target_token = tmp_path / "target.token"
    target_token.write_text(SECRET + "-bearer\n")
    targets = write_targets(
        tmp_path / "t.json",
        [
            {
                "targets": [f"http://user:{SECRET}@127.0.0.1:9"],
                "labels": {
                    "team": "pay",
                    "__token_file__": str(target_token),
                    "__header_x_api_key__": SECRET + "-header",
                },
            }
        ],
    )
    data = tmp_path / "data"
    args = ["--targets", str(targets), "--data", str(data), "--interval", "0.5s"]
    args += ["--listen", "0.0.0.0:0", "--token-file", str(token_file)]
    with serving(args, tmp_path / "serve.log") as s:
        url = s.url.replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(url + "/api/targets").status_code == 401
        assert httpx.get(url + "/").status_code == 401
        assert httpx.get(url + "/-/healthy").status_code == 200
        assert httpx.get(url + "/metrics").status_code == 200  # not protected by default
        bad = {"Authorization": "Bearer nope"}
        assert httpx.get(url + "/api/targets", headers=bad).status_code == 401
        good = {"Authorization": "Bearer serve-token-123"}
        doc = wait_for(
            "the target to be seen down",
            lambda: httpx.get(url + "/api/targets", headers=good).json(),
            lambda d: d["targets"] and d["targets"][0]["status"] == "down",
            60,
        )
        assert doc["targets"][0]["target"] == "http://127.0.0.1:9"
        tid = doc["targets"][0]["id"]
        one = httpx.get(f"{url}/api/targets/{tid}", headers=good).text
        metrics = httpx.get(url + "/metrics").text
        status = subprocess.run(
            [sys.executable, "-m", "leakhunter", "status", "--url", url, "--token-file",
             str(token_file), "--json"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        log = s.output()
    assert "down" in log
    for text in (doc.__repr__(), one, metrics, status.stdout, log):
        assert SECRET not in text
    for path in data.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
