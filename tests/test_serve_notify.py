"""Webhook notifications: real HTTP receivers on loopback, retries, de-duplication, shapes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from leakhunter.serve.notify import EVENT_SCHEMA, Notifier, Webhook
from leakhunter.serve.worker import Event
from serve_helpers import serving, wait_for, write_targets


class Receiver:
    """An HTTP server that records POSTed JSON; answers ``fail`` 500s first."""

    def __init__(self, fail: int = 0, status: int = 500) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.fail, self.status = fail, status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                outer.paths.append(self.path)
                if outer.fail > 0:
                    outer.fail -= 1
                    self.send_response(outer.status)
                else:
                    outer.bodies.append(json.loads(data))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0K3N-secret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _event(status: str, previous: str | None = "ok", target: str = "t1") -> Event:
    return Event(time.time(), target, "http://10.0.0.7:6060", previous, status, "heap grows")


def test_retries_then_delivers_once(receiver: Receiver) -> None:
    receiver.fail = 2
    lines: list[str] = []
    n = Notifier((Webhook(receiver.url),), backoff=0.05, say=lines.append,
                 labels=lambda tid: {"team": "pay"}, ui="http://serve:9480/")  # fmt: skip
    n.notify(_event("leak"))
    n.notify(_event("leak"))  # the same state again: de-duplicated
    n.notify(_event("suspect"))  # not asked for by default
    n.notify(_event("ok", previous="pending"))  # "ok" is news only as a recovery
    n.close()
    assert len(receiver.paths) == 3 and len(receiver.bodies) == 1, receiver.paths
    body = receiver.bodies[0]
    assert body["schema"] == EVENT_SCHEMA and body["status"] == "leak"
    assert body["labels"] == {"team": "pay"} and body["url"] == "http://serve:9480/targets/t1"
    assert lines == []


def test_a_refused_request_is_not_retried_and_the_url_is_never_shown(receiver: Receiver) -> None:
    receiver.fail, receiver.status = 5, 404
    lines: list[str] = []
    n = Notifier((Webhook(receiver.url),), backoff=0.05, say=lines.append)
    n.notify(_event("down"))
    n.close()
    assert len(receiver.paths) == 1  # 404: the request is wrong, retrying will not help
    assert len(lines) == 1 and "127.0.0.1" in lines[0] and "HTTP 404" in lines[0]
    assert "T0K3N" not in lines[0]
    assert "T0K3N" not in repr(Webhook(receiver.url))


def test_slack_shape_and_recovery(receiver: Receiver) -> None:
    n = Notifier((Webhook(receiver.url, "slack"),), labels=lambda tid: {"team": "pay"})
    n.notify(_event("ok", previous="leak"))
    n.close()
    (body,) = receiver.bodies
    assert set(body) == {"text"} and "*ok*" in body["text"] and "team=pay" in body["text"]


def test_serve_posts_state_changes(receiver: Receiver, tmp_path: Path) -> None:
    targets = write_targets(
        tmp_path / "t.json", [{"targets": ["127.0.0.1:9"], "labels": {"a": "b"}}]
    )
    args = ["--targets", str(targets), "--data", str(tmp_path / "d"), "--interval", "0.5s"]
    hook = tmp_path / "hook.url"
    hook.write_text(receiver.url)
    args += ["--webhook", f"@{hook}", "--ui-url", "http://serve.example:9480"]
    with serving(args, tmp_path / "serve.log"):
        got = wait_for("a down event", lambda: list(receiver.bodies), bool, 60)
    assert got[0]["status"] == "down" and got[0]["labels"] == {"a": "b"}
    assert got[0]["url"].startswith("http://serve.example:9480/targets/")
    assert "T0K3N" not in (tmp_path / "serve.log").read_text()
