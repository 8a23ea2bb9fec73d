"""Notifications without Alertmanager: state changes POSTed to webhooks, retried, de-duplicated.

For a team without Alertmanager, serve can tell a chat or an incident tool
itself: every state change it prints (a target turns leaking, suspect, down,
recovers) can go to webhooks as generic JSON (``leakhunter.event/1``) or as a
Slack-compatible ``{"text": ...}``. Delivery runs on its own thread, so a slow
receiver never delays scraping; a failed POST (connection error, 429, 5xx) is
retried with exponential backoff; a 4xx other than 429 is not (the request
will not get better). A target flapping between the same two states sends
each state once per ``dedup_seconds``. Webhook URLs are secrets (Slack's
carry the token): they are never printed; errors name the host only.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from leakhunter.serve.worker import Event

__all__ = ["EVENT_SCHEMA", "Notifier", "Webhook", "event_json", "slack_json"]

EVENT_SCHEMA = "leakhunter.event/1"
_STOP = object()


@dataclass(frozen=True)
class Webhook:
    """Where to send, in which shape ("json" or "slack")."""

    url: str = field(repr=False)
    format: str = "json"

    @property
    def host(self) -> str:
        """Return the webhook's host, the only part of its URL ever shown."""
        return urlsplit(self.url).hostname or "webhook"


def event_json(e: Event, labels: Mapping[str, str], ui: str | None) -> dict[str, Any]:
    """Return the generic JSON of one state change."""
    return {
        "schema": EVENT_SCHEMA,
        "time": datetime.fromtimestamp(e.time, UTC).isoformat(timespec="seconds"),
        "id": e.target,
        "target": e.url,
        "labels": dict(labels),
        "previous": e.previous,
        "status": e.status,
        "text": e.text,
        "url": f"{ui.rstrip('/')}/targets/{e.target}" if ui else None,
    }


def slack_json(e: Event, labels: Mapping[str, str], ui: str | None) -> dict[str, Any]:
    """Return a Slack-compatible message (incoming webhooks take ``text``)."""
    icon = {"leak": ":rotating_light:", "suspect": ":warning:", "down": ":red_circle:"}.get(
        e.status, ":white_check_mark:"
    )
    where = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    link = f" <{ui.rstrip('/')}/targets/{e.target}|report>" if ui else ""
    text = f"{icon} *{e.status}* {e.url}" + (f" ({where})" if where else "") + f": {e.text}{link}"
    return {"text": text}


class Notifier:
    """Sends state changes to webhooks from one background thread."""

    def __init__(
        self,
        hooks: tuple[Webhook, ...],
        *,
        statuses: frozenset[str] = frozenset({"leak", "down", "ok"}),
        labels: Callable[[str], Mapping[str, str]] = lambda tid: {},
        ui: str | None = None,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
        dedup_seconds: float = 600.0,
        say: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    ) -> None:
        self.hooks = hooks
        self.statuses = statuses
        self.labels = labels
        self.ui = ui
        self.retries = retries
        self.backoff = backoff
        self.dedup_seconds = dedup_seconds
        self.say = say
        self.sent = 0
        self._last: dict[tuple[str, str], float] = {}  # (target, status) -> when it was sent
        self._queue: queue.Queue[object] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._thread = threading.Thread(target=self._run, name="leakhunter-notify", daemon=True)
        self._thread.start()

    def notify(self, e: Event) -> None:
        """Queue a state change (dropped when not wanted, or sent recently)."""
        if e.status not in self.statuses or not self.hooks:
            return
        if e.status == "ok" and e.previous not in ("leak", "suspect", "down"):
            return  # "ok" is news only as a recovery
        key = (e.target, e.status)
        now = time.monotonic()
        if now - self._last.get(key, -1e18) < self.dedup_seconds:
            return
        self._last[key] = now
        try:
            self._queue.put_nowait(e)
        except queue.Full:
            self.say("leakhunter serve: notifications: queue full, one dropped")

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, Event)
            labels = self.labels(item.target)
            for hook in self.hooks:
                shape = slack_json if hook.format == "slack" else event_json
                self._post(hook, shape(item, labels, self.ui))

    def _post(self, hook: Webhook, body: dict[str, Any]) -> None:
        for attempt in range(self.retries + 1):
            problem = ""
            try:
                r = self._client.post(hook.url, json=body)
                if r.status_code < 300:
                    self.sent += 1
                    return
                problem = f"HTTP {r.status_code}"
                if r.status_code < 500 and r.status_code != 429:
                    break  # the request itself is wrong: retrying will not help
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if attempt < self.retries and self._stop.wait(self.backoff * 2**attempt):
                return
        self.say(f"leakhunter serve: notification to {hook.host} failed ({problem})")

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (within timeout), then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._stop.set()
        self._client.close()
