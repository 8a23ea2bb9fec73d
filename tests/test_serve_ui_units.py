"""The web UI's parts without a browser: history data, sparklines, the guard, the app in-process.

The browser tests (test_serve_ui.py) show the pages work; these pin the
contracts underneath fast: series thinned to their newest point, runs split at
restarts, evidence served only by name from a fixed list, Bearer and Basic
tokens, the ETag, escaping, and the API's additions beside its old fields.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from leakhunter.serve.api import ApiOptions, fleet_etag, make_app
from leakhunter.serve.guard import _token_of
from leakhunter.serve.history import Sparklines, evidence, find_capture, runs, series
from leakhunter.serve.options import ServeOptions
from leakhunter.serve.pages import Pages
from leakhunter.serve.scheduler import Scheduler
from leakhunter.serve.store import Point, Store
from leakhunter.serve.svg import history_chart
from leakhunter.serve.targets import TargetSpec
from leakhunter.serve.worker import TargetStatus

HOSTILE = "<img src=x onerror=alert(1)>"


def _pt(t: float, epoch: int = 0, heap: float | None = 1e6, up: bool = True) -> Point:
    return Point(t, epoch, heap, 10.0 if up else None, None, None, up)


def test_series_are_thinned_and_end_at_the_newest_point() -> None:
    pts = [_pt(float(i), heap=None if i % 3 == 0 else float(i)) for i in range(1, 1001)]
    s = series(pts, 60)
    assert len(s["heap"]["t"]) == len(s["heap"]["v"]) == 60
    assert s["heap"]["t"][-1] == 1000.0 and s["heap"]["v"][-1] == 1000  # the newest is kept
    assert s["heap"]["t"] == sorted(s["heap"]["t"])
    assert len(s["goroutines"]["t"]) == 60 and None not in s["heap"]["v"]
    short = series(pts[:5], 60)
    assert short["heap"]["t"] == [1.0, 2.0, 4.0, 5.0]  # unknown heaps are left out, not zero


def test_sparklines_are_read_again_only_for_targets_scraped_since(tmp_path: Path) -> None:
    db = Store(tmp_path / "serve.db")
    for tid in ("a", "b"):
        db.upsert_target(tid, f"http://{tid}:1", {}, "t")
        for t in (100.0, 200.0):
            db.record_scrape(
                tid, _pt(t), status="ok", verdict=None, memstats=None, run_started=None,
                findings={},
            )  # fmt: skip
    reads: list[list[str]] = []
    real = db.recent_points

    def counting(since: float, targets: list[str] | None = None) -> dict[str, list[Point]]:
        reads.append(sorted(targets or []))
        return real(since, targets)

    db.recent_points = counting  # type: ignore[method-assign]
    lines = Sparklines(db, span=1000.0)
    first = lines.get({"a": 200.0, "b": 200.0}, now=1000.0)
    assert first["a"]["heap"]["t"] == [100, 200] and reads == [["a", "b"]]
    assert lines.get({"a": 200.0, "b": 200.0}, now=1000.0) == first and len(reads) == 1
    db.record_scrape(
        "b", _pt(300.0), status="ok", verdict=None, memstats=None, run_started=None, findings={}
    )
    again = lines.get({"b": 300.0}, now=1000.0)  # "a" left the fleet
    assert reads[-1] == ["b"] and again["b"]["heap"]["t"] == [100, 200, 300]
    assert set(again) == {"b"} and "a" not in lines._cache
    assert set(db.recent_points(150.0)) == {"a", "b"}  # every target when none is named
    db.close()


def test_runs_split_where_the_target_restarted() -> None:
    pts = [_pt(1, 0, 100.0), _pt(2, 0, None, up=False), _pt(3, 0, 300.0), _pt(4, 1, 50.0)]
    got = runs(pts)
    assert [(r["epoch"], r["scrapes"], r["down"]) for r in got] == [(0, 3, 1), (1, 1, 0)]
    assert (got[0]["heap_first"], got[0]["heap_last"]) == (100.0, 300.0)
    assert got[1]["start"] == "1970-01-01T00:00:04Z" and runs([]) == []


def test_evidence_files_are_found_only_by_listed_names(tmp_path: Path) -> None:
    db = Store(tmp_path / "serve.db")
    folder = tmp_path / "targets" / "a" / "evidence" / "20261205T031241-leak"
    folder.mkdir(parents=True)
    (folder / "verdict.json").write_text("{}")
    (folder / "notes.txt").write_text("not listed")
    db.add_file(str(folder), "a", "evidence", 100.0, 2)
    captures = evidence(db.files(), "a")
    assert [(c["name"], c["reason"], c["files"]) for c in captures] == [
        ("20261205T031241-leak", "leak", ["verdict.json"])
    ]
    assert find_capture(captures, folder.name, "verdict.json") == folder / "verdict.json"
    for name, file in (
        (folder.name, "notes.txt"),  # on disk, not listed
        (folder.name, "heap.pb.gz"),  # listed, not on disk
        ("..", "verdict.json"),
        (folder.name, "../../serve.db"),
    ):
        assert find_capture(captures, name, file) is None
    assert evidence(db.files(), "b") == []  # another target's captures are not its own
    db.close()


def test_the_token_comes_as_bearer_or_as_basic_password() -> None:
    basic = base64.b64encode(b"anyone:s3cret:with:colons").decode()
    assert _token_of("Bearer s3cret") == "s3cret"
    assert _token_of(f"Basic {basic}") == "s3cret:with:colons"
    assert _token_of("Basic !!notbase64") is None and _token_of("Digest x") is None


def test_the_fleet_etag_changes_with_a_scrape_and_the_minute() -> None:
    a = TargetStatus("a", "http://a:1", {}, snapshots=1, last_scrape=10.0)
    b = TargetStatus("a", "http://a:1", {}, snapshots=2, last_scrape=20.0)
    assert fleet_etag([a], "x", 30.0) == fleet_etag([a], "x", 59.0)
    assert fleet_etag([a], "x", 30.0) != fleet_etag([b], "x", 30.0)
    assert fleet_etag([a], "x", 30.0) != fleet_etag([a], "x", 61.0)
    assert fleet_etag([a], "x", 30.0) != fleet_etag([a], "y", 30.0)


def test_history_chart_is_numbers_and_escaped_labels() -> None:
    svg = history_chart([0.0, 60.0, 120.0], [1.0, 5.0, 9.0], "goroutines", restarts=[60.0])
    assert svg.startswith("<svg") and svg.count('class="restart"') == 1
    assert 'class="series" points="' in svg and history_chart([], [], "bytes") == ""


def test_pages_escape_what_a_target_sends() -> None:
    st = TargetStatus("t1", "http://h:1", {"note": HOSTILE}, status="down")
    doc = {
        "targets": [{"id": "t1", "target": "http://h:1", "labels": {"note": HOSTILE}}],
        "schema": "leakhunter.targets/1",
    }
    fleet = Pages().fleet(doc, "n0nce", 5.0, '"tag"')
    assert HOSTILE not in fleet and "\\u003cimg" in fleet  # in the data island, escaped
    assert '<script nonce="n0nce">' in fleet and 'data-etag="&#34;tag&#34;"' in fleet
    one = {
        "id": "t1",
        "last_scrape": None,
        "windows": [],
        "events": [{"time": 0.0, "status": "down", "previous": None, "text": HOSTILE}],
        "evidence": [],
        "history": {"runs": [], "segments": [], "points": 0, "since": None,
                    "series": {"heap": {"t": [], "v": []}, "goroutines": {"t": [], "v": []}}},
    }  # fmt: skip
    page = Pages().target(st, one, None, "n0nce")
    assert HOSTILE not in page and page.count("&lt;img src=x onerror=alert(1)&gt;") == 2


class Client:
    """GET from the app in-process (httpx over ASGI; Starlette's TestClient warns here)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def get(self, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as c:
                return await c.get(path, **kw)

        return asyncio.run(go())


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[Scheduler, Store]]:
    store = Store(tmp_path / "serve.db")
    stop = threading.Event()
    scheduler = Scheduler(store, ServeOptions(data=tmp_path), stop)
    scheduler.set_targets([TargetSpec("http://127.0.0.1:9", {"team": "ops"})])  # never started
    tid = scheduler.statuses()[0].id
    store.record_scrape(
        tid, _pt(1e9), status="down", verdict=None, memstats=None, run_started=None, findings={}
    )
    yield scheduler, store
    scheduler.close()
    store.close()


def test_the_app_answers_pages_and_api_in_process(app: tuple[Scheduler, Store]) -> None:
    scheduler, store = app
    tid = scheduler.statuses()[0].id
    client = Client(make_app(scheduler, store, 5, ApiOptions()))
    plain = client.get("/api/targets").json()
    (t,) = plain["targets"]
    assert plain["schema"] == "leakhunter.targets/1" and "sparklines" not in t
    assert {
        "id",
        "target",
        "labels",
        "up",
        "verdict",
        "snapshots",
        "last_scrape",
        "findings",
    } <= t.keys()
    r = client.get("/api/targets?sparklines=1&span=1e12")  # far past: clamped, not refused
    assert r.status_code == 200 and set(r.json()["targets"][0]["sparklines"]) == {
        "heap",
        "goroutines",
    }
    again = client.get(
        "/api/targets?sparklines=1&span=1e12", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    one = client.get(f"/api/targets/{tid}").json()
    assert one["history"]["points"] == 1 and one["labels"] == {"team": "ops"}
    page = client.get("/?poll=0.001")
    assert page.status_code == 200 and 'data-poll="1.0"' in page.text  # clamped
    assert page.headers["content-encoding"] == "gzip"  # pages and documents go compressed
    raw = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.text.startswith("<!doctype html")
    assert "script-src 'nonce-" in page.headers["content-security-policy"]
    assert client.get(f"/targets/{tid}").status_code == 200
    assert client.get("/targets/nope").status_code == 404
    assert client.get(f"/targets/{tid}/evidence/x/verdict.json").status_code == 404
    assert client.get("/api/targets").headers["x-frame-options"] == "DENY"


def test_with_a_token_the_ui_asks_for_it(app: tuple[Scheduler, Store]) -> None:
    scheduler, store = app
    client = Client(make_app(scheduler, store, 5, ApiOptions(token="tok")))
    for path in ("/", "/api/targets?sparklines=1", f"/targets/{scheduler.statuses()[0].id}"):
        r = client.get(path)
        assert r.status_code == 401 and len(r.headers.get_list("www-authenticate")) == 2
        assert client.get(path, auth=("me", "tok")).status_code == 200
        assert client.get(path, headers={"Authorization": "Bearer tok"}).status_code == 200
        assert client.get(path, auth=("tok", "")).status_code == 401  # the password is the token
    assert client.get("/-/healthy").status_code == 200
