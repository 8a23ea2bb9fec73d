"""serve's web UI in a real headless Chromium: the fleet page, live updates, the target page.

serve runs as its own process, as in production, against simulated Go targets
(bench/serve_targets.py: recorded zoo sessions answered over real HTTP, three
leaks, two controls and a churn) plus a target that is down and carries a
label made to break out of HTML. Chromium is driven over the DevTools protocol
(tests/cdp.py) with real mouse clicks and typing where a person would use
them. Every page is checked for console errors, uncaught exceptions and any
request that leaves serve's origin.

Nothing here sleeps and hopes: each wait polls the page (or serve's API) for
the state it needs, with a generous deadline, so a loaded machine only makes
these tests slower. Screenshots go to the test's tmp dir, and to
$LEAKHUNTER_SCREENSHOTS when set.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import struct
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from cdp import Browser, CDPError, find_chromium
from serve_helpers import Serving, hostport, serving, wait_for, write_targets

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium not found: install Debian's chromium (scripts/setup.sh --test-tools "
        "does, as root) or point LEAKHUNTER_CHROMIUM at a Chromium binary",
    ),
]

BENCH = Path(__file__).resolve().parent.parent / "bench" / "serve_targets.py"
LEAKS = ("unbounded-map-cache", "grpc-stream-not-closed", "chan-receive-no-sender")
DOWN = "127.0.0.1:9"  # the discard port: nothing listens
HOSTILE = '<img src="/x-escaped" onerror="window.pwned=1">'
#: page-side waits: long enough for a loaded two-core machine, short enough to fail
WAIT = 120.0
RANK = {"leak": 0, "suspect": 1, "down": 2, "inconclusive": 3, "pending": 4, "ok": 5}


def _sim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serve_targets", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("serve_targets", module)
    spec.loader.exec_module(module)
    return module


@dataclass
class Fleet:
    """serve watching the simulated fleet: its handle and the ids of the targets."""

    serve: Serving
    ids: dict[str, str]  # scenario name (or "down") -> target id

    @property
    def url(self) -> str:
        return self.serve.url


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("serve-ui")
    with _sim().simulated(6, 1, local=True) as sim:
        groups = [*sim.groups(), {"targets": [DOWN], "labels": {"team": "ops", "note": HOSTILE}}]
        targets = write_targets(tmp / "targets.json", groups)
        # 3 s: a replay (83 snapshots) cannot wrap around (its heap falling back to the
        # start) for four minutes, far longer than these tests take even on a busy machine
        args = ["--targets", str(targets), "--data", str(tmp / "data"), "--interval", "3s"]
        args += ["--quiet-period", "2s", "--timeout", "10s"]
        with serving(args, tmp / "serve.log") as s:

            def ready(doc: dict[str, Any]) -> bool:
                by = {t["labels"].get("scenario", "down"): t for t in doc["targets"]}
                return len(by) == 7 and all(by[n]["status"] == "leak" for n in LEAKS)

            doc = wait_for("the leaks judged", s.api, ready, 300)
            ids = {t["labels"].get("scenario", "down"): t["id"] for t in doc["targets"]}
            wait_for(
                "evidence captured",
                lambda: s.api(f"/api/targets/{ids['grpc-stream-not-closed']}"),
                lambda d: bool(d["evidence"]),
                120,
            )
            yield Fleet(s, ids)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    b = Browser(CHROMIUM)
    b.send("Network.enable")
    yield b
    b.close()


def wait_page(browser: Browser, what: str, expression: str, timeout: float = WAIT) -> Any:
    """Evaluate ``expression`` until it is truthy (a navigation in between is retried)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = browser.evaluate(expression)
            if last:
                return last
        except CDPError as exc:  # the page is being replaced
            last = str(exc)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
        time.sleep(0.2)


def check_clean(browser: Browser, origin: str, *also: str) -> None:
    """No console error or exception, and no request anywhere but serve (data: aside)."""
    assert browser.problems() == []
    fetched = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e["method"] == "Network.requestWillBeSent"
    ]
    allowed = (origin + "/", "data:", *also)
    assert fetched and all(u.startswith(allowed) for u in fetched), fetched


def open_fleet(browser: Browser, fleet: Fleet, tail: str = "?poll=1") -> None:
    """Load the fleet page afresh (from a blank page: a new #fragment alone loads nothing)."""
    browser.navigate("about:blank")
    browser.events.clear()
    browser.navigate(f"{fleet.url}/{tail}")
    wait_page(browser, "the fleet table", "window.leakhunterFleet && window.leakhunterFleet.ready")


def rect(browser: Browser, selector: str) -> dict[str, float]:
    got: dict[str, float] = browser.evaluate(
        f"""(() => {{
          const el = document.querySelector({json.dumps(selector)});
          el.scrollIntoView({{block: "center"}});
          const r = el.getBoundingClientRect();
          return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
        }})()"""
    )
    return got


def click(browser: Browser, selector: str) -> None:
    at = rect(browser, selector)
    browser.click(at["x"], at["y"])


def clicked_to(browser: Browser, selector: str) -> None:
    """Click a link with the mouse and wait for the page it opens."""
    browser.events = [e for e in browser.events if e["method"] != "Page.loadEventFired"]
    click(browser, selector)
    browser.wait_event("Page.loadEventFired", timeout=WAIT)


VISIBLE = "[...document.querySelectorAll('#fleet tbody tr')].filter(r => !r.hidden)"


def visible(browser: Browser) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = browser.evaluate(
        f"""{VISIBLE}.map(r => ({{id: r.dataset.id, status: r.className,
            target: r.querySelector("td.target a").textContent,
            snapshots: Number(r.dataset.snapshots)}}))"""
    )
    return rows


# -- the fleet page --------------------------------------------------------------


def test_fleet_page_shows_every_target_with_sparklines(browser: Browser, fleet: Fleet) -> None:
    open_fleet(browser, fleet)
    shown = browser.evaluate(
        """(() => {
          const doc = window.leakhunterFleet.doc;
          const rows = [...document.querySelectorAll('#fleet tbody tr')].map(r => ({
            id: r.dataset.id, cls: r.className,
            status: r.querySelector("td:nth-child(2) .badge").textContent,
            target: r.querySelector("td.target a").textContent,
            href: r.querySelector("td.target a").getAttribute("href"),
            heapPts: (r.querySelector("td:nth-child(3) svg.spark polyline") || {points: []})
              .points.length,
            gorPts: (r.querySelector("td:nth-child(4) svg.spark polyline") || {points: []})
              .points.length,
            finding: r.querySelector("td.finding").textContent,
            snapshots: r.querySelector("td.snapshots").textContent,
            last: (r.querySelector("td.last time") || {}).dateTime || null,
          }));
          return {doc, rows, imgs: document.querySelectorAll("#fleet img").length,
                  pwned: window.pwned === 1, title: document.title};
        })()"""
    )
    doc, rows = shown["doc"], {r["id"]: r for r in shown["rows"]}
    assert sorted(rows) == sorted(fleet.ids.values()) == sorted(t["id"] for t in doc["targets"])
    for t in doc["targets"]:
        r = rows[t["id"]]
        assert (r["status"], r["cls"], r["target"]) == (t["status"], t["status"], t["target"])
        assert r["href"] == "targets/" + t["id"]
        assert r["snapshots"] == f"{t['snapshots']:,}" and r["last"] == t["last_scrape"]
        spark = t["sparklines"]
        for key, n in (("heap", r["heapPts"]), ("goroutines", r["gorPts"])):
            assert n == (len(spark[key]["t"]) if len(spark[key]["t"]) > 1 else 0), (key, t)
        lead = next((f for f in t["findings"] if f["verdict"] == "leak"), None)
        if t["status"] == "leak":
            assert lead is not None
            short = lead["culprit"]["function"].rsplit("/", 1)[-1]
            assert short in r["finding"], r
            if lead["rule"]:
                assert lead["rule"]["id"] in r["finding"]
    for name in LEAKS:  # real series: many points, drawn
        assert rows[fleet.ids[name]]["heapPts"] >= 3 and rows[fleet.ids[name]]["gorPts"] >= 3
    # the hostile label is text, not markup
    assert shown["imgs"] == 0 and not shown["pwned"]
    assert HOSTILE in browser.evaluate("document.querySelector('#fleet tbody').textContent")
    assert shown["title"].startswith("(")  # "(3 leak) leakhunter serve: 7 targets"
    check_clean(browser, fleet.url)


def test_fleet_page_updates_live_without_reloading(browser: Browser, fleet: Fleet) -> None:
    open_fleet(browser, fleet)
    browser.evaluate("window.sameDocument = true")
    before = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#fleet tbody tr')]"
        ".map(r => [r.dataset.id, Number(r.dataset.snapshots)]))"
    )
    changed = wait_page(
        browser,
        "a newer scrape on the page",
        f"""(() => {{
          const before = {json.dumps(before)};
          const r = [...document.querySelectorAll('#fleet tbody tr')]
            .find(r => Number(r.dataset.snapshots) > before[r.dataset.id]);
          return r && {{id: r.dataset.id, text: r.querySelector("td.snapshots").textContent,
                        n: Number(r.dataset.snapshots)}};
        }})()""",
    )
    assert changed["n"] > before[changed["id"]]
    assert changed["text"].replace(",", "") == str(changed["n"])
    state = browser.evaluate(
        "({same: window.sameDocument === true, polls: leakhunterFleet.polls,"
        " live: document.getElementById('live').textContent,"
        " navs: performance.getEntriesByType('navigation').length})"
    )
    assert state["same"] and state["navs"] == 1 and state["polls"] >= 1
    assert state["live"].startswith("live"), state
    check_clean(browser, fleet.url)


def test_sort_and_filter_work_and_survive_updates(browser: Browser, fleet: Fleet) -> None:
    open_fleet(browser, fleet)
    click(browser, '#fleet th[data-key="snapshots"] button')
    order = browser.evaluate(
        "({sort: document.querySelector('#fleet th[data-key=\"snapshots\"]')"
        ".getAttribute('aria-sort'), n: [...document.querySelectorAll('#fleet tbody tr')]"
        ".map(r => Number(r.dataset.snapshots))})"
    )
    assert order["sort"] == "descending" and order["n"] == sorted(order["n"], reverse=True)
    click(browser, '#fleet th[data-key="oom"] button')  # soonest first, unknown last
    rows = browser.evaluate(
        "[...document.querySelectorAll('#fleet tbody tr')].map(r => [r.className,"
        " r.querySelector('td.target a').textContent, leakhunterFleet.doc.targets"
        ".find(t => t.id === r.dataset.id).time_to_oom_seconds])"
    )
    known = [oom for _, _, oom in rows if oom is not None]
    assert [oom for _, _, oom in rows[: len(known)]] == sorted(known)
    ties = [(RANK[status], url) for status, url, _ in rows[len(known) :]]
    assert ties == sorted(ties), ties  # no limit known: worst first, then by target
    click(browser, '#fleet th[data-key="target"] button')
    urls = [r["target"] for r in visible(browser)]
    assert urls == sorted(urls) and len(urls) == 7
    click(browser, '#fleet th[data-key="target"] button')
    urls = [r["target"] for r in visible(browser)]
    assert urls == sorted(urls, reverse=True)

    click(browser, "#filter")
    browser.send("Input.insertText", text="grpc-stream")
    rows = visible(browser)
    assert [r["id"] for r in rows] == [fleet.ids["grpc-stream-not-closed"]]
    updates = browser.evaluate("leakhunterFleet.updates")
    wait_page(browser, "two more updates", f"leakhunterFleet.updates >= {updates + 2}")
    kept = browser.evaluate(
        "({value: document.getElementById('filter').value, hash: location.hash,"
        " sort: document.querySelector('#fleet th[data-key=\"target\"]')"
        ".getAttribute('aria-sort')})"
    )
    assert [r["id"] for r in visible(browser)] == [fleet.ids["grpc-stream-not-closed"]]
    assert kept == {
        "value": "grpc-stream",
        "hash": "#sort=target&dir=desc&q=grpc-stream",
        "sort": "descending",
    }

    click(browser, "#clear")
    browser.evaluate(
        "(() => { const s = document.getElementById('status-filter'); s.value = 'leak';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    got = browser.evaluate(
        f"""({{rows: {VISIBLE}.map(r => r.className), hash: location.hash,
             leaks: leakhunterFleet.doc.targets.filter(t => t.status === "leak").length}})"""
    )
    assert got["rows"] == ["leak"] * got["leaks"] and got["leaks"] >= 1
    assert got["hash"] == "#status=leak"
    click(browser, "#filter")
    browser.send("Input.insertText", text="no-such-target")
    assert browser.evaluate("document.getElementById('none').hidden") is False
    click(browser, "#clear")
    assert len(visible(browser)) == 7 and browser.evaluate("location.hash") == ""
    check_clean(browser, fleet.url)


def test_fleet_to_target_page_and_back(browser: Browser, fleet: Fleet) -> None:
    # the state comes from the URL too; no update moves a link while the mouse aims at it
    open_fleet(browser, fleet, "?poll=300#status=leak")
    rows = visible(browser)
    assert rows and {r["status"] for r in rows} == {"leak"}
    first = rows[0]["id"]
    clicked_to(browser, "#fleet tbody tr:not([hidden]) td.target a")
    assert browser.evaluate("location.pathname") == f"/targets/{first}"
    wait_page(browser, "the report", "window.leakhunterReport && window.leakhunterReport.ready")
    browser.evaluate("history.back()")
    wait_page(
        browser,
        "the fleet page again, filter kept",
        "location.pathname === '/' && window.leakhunterFleet && leakhunterFleet.ready"
        " && document.getElementById('status-filter').value === 'leak'",
    )
    assert {r["status"] for r in visible(browser)} == {"leak"}
    clicked_to(browser, "#fleet tbody tr:not([hidden]) td.target a")
    clicked_to(browser, "#to-fleet")  # the target page's own way back: the whole fleet
    wait_page(browser, "the fleet page", "window.leakhunterFleet && leakhunterFleet.ready")
    assert browser.evaluate("location.pathname") == "/" and len(visible(browser)) == 7
    check_clean(browser, fleet.url)


# -- the target page ---------------------------------------------------------------


def test_target_page_renders_the_report_and_the_history(browser: Browser, fleet: Fleet) -> None:
    tid = fleet.ids["grpc-stream-not-closed"]
    browser.events.clear()
    browser.navigate(f"{fleet.url}/targets/{tid}")
    wait_page(browser, "the report", "window.leakhunterReport && window.leakhunterReport.ready")
    page = browser.evaluate(
        """(() => {
          const data = JSON.parse(document.getElementById("report-data").textContent);
          const n = s => document.querySelectorAll(s).length;
          return {
            verdict: data.verdict.value, findings: data.findings.length,
            banner: document.querySelector("#banner .badge").textContent,
            articles: n("article.finding"), charts: n("[data-chart] svg polyline"),
            placeholders: n("[data-chart]"), frames: n(".flame .fr"),
            status: document.getElementById("target-status").textContent,
            history: n("[data-history] svg polyline"), windows: n("table.windows tbody tr"),
            runs: n("table.runs tbody tr"), events: [...document.querySelectorAll(".events li")]
              .map(li => li.textContent),
            links: [...document.querySelectorAll(".evidence-table a")].map(a => a.href),
            toc: [...document.querySelectorAll(".toc a")].map(a => a.textContent),
          };
        })()"""
    )
    assert page["banner"] == page["verdict"].upper() and page["articles"] == page["findings"]
    assert page["charts"] == page["placeholders"] > 0 and page["frames"] > 10
    assert page["status"] in ("leak", "suspect", "ok", "inconclusive")
    assert page["history"] == 2 and page["windows"] >= 1 and page["runs"] >= 1
    assert any("leak" in e and "grpcstream" in e for e in page["events"]), page["events"]
    assert "History" in page["toc"]
    verdicts = [u for u in page["links"] if u.endswith("/verdict.json")]
    heaps = [u for u in page["links"] if u.endswith("/heap.pb.gz")]
    assert verdicts and heaps and all(u.startswith(f"{fleet.url}/targets/{tid}/") for u in verdicts)
    got = browser.evaluate(
        f"""(async () => {{
          const v = await fetch({json.dumps(verdicts[-1])});
          const h = await fetch({json.dumps(heaps[-1])});
          const bytes = new Uint8Array(await h.arrayBuffer());
          return {{v: v.status, doc: await v.json(), h: h.status,
                   type: h.headers.get("content-type"), magic: [bytes[0], bytes[1]]}};
        }})()"""
    )
    assert got["v"] == 200 and got["doc"]["id"] == tid
    assert got["doc"]["captured"] in ("leak", "suspect")
    assert (got["h"], got["type"], got["magic"]) == (200, "application/gzip", [0x1F, 0x8B])
    check_clean(browser, fleet.url)


def test_a_target_without_a_verdict_has_a_page(browser: Browser, fleet: Fleet) -> None:
    browser.events.clear()
    browser.navigate(f"{fleet.url}/targets/{fleet.ids['down']}")
    page = browser.evaluate(
        "({status: document.getElementById('target-status').textContent,"
        " report: !!document.getElementById('report-data'),"
        " note: (document.getElementById('no-verdict') || {}).textContent || '',"
        " runs: document.querySelectorAll('table.runs tbody tr').length,"
        " pills: [...document.querySelectorAll('.topbar .pill')].map(p => p.textContent),"
        " imgs: document.querySelectorAll('img').length, pwned: window.pwned === 1})"
    )
    assert page["status"] == "down" and page["runs"] >= 1
    # judged or not, the page is there; without a verdict it says why
    assert page["report"] or "has not answered" in page["note"]
    assert f"note={HOSTILE}" in page["pills"] and page["imgs"] == 0 and not page["pwned"]
    check_clean(browser, fleet.url)


# -- screenshots ---------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _colours(browser: Browser, png: bytes) -> dict[str, Any]:
    """Decode a PNG in the browser (on a blank page) and count its colours."""
    browser.navigate("about:blank")
    b64 = base64.b64encode(png).decode()
    got: dict[str, Any] = browser.evaluate(
        f"""(async () => {{
          const img = new Image();
          img.src = "data:image/png;base64,{b64}";
          await img.decode();
          const c = document.createElement("canvas");
          c.width = img.naturalWidth; c.height = img.naturalHeight;
          const g = c.getContext("2d");
          g.drawImage(img, 0, 0);
          const d = g.getImageData(0, 0, c.width, c.height).data;
          const counts = new Map();
          for (let i = 0; i < d.length; i += 4) {{
            const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
            counts.set(k, (counts.get(k) || 0) + 1);
          }}
          let top = 0;
          counts.forEach(v => {{ top = Math.max(top, v); }});
          const has = rgb => counts.has((rgb[0] << 16) | (rgb[1] << 8) | rgb[2]);
          return {{w: c.width, h: c.height, distinct: counts.size, top: top / (d.length / 4),
                   leakRed: has([198, 40, 40]), topbar: has([29, 35, 48])}};
        }})()"""
    )
    return got


def _shoot(browser: Browser, path: Path) -> dict[str, Any]:
    size = browser.evaluate(
        "({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})"
    )
    shot = browser.screenshot(path)
    keep = os.environ.get("LEAKHUNTER_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    data = shot.read_bytes()
    width, height = _png_size(data)
    assert width == size["w"] and abs(height - min(size["h"], 16000)) <= 1, (width, height, size)
    colours = _colours(browser, data)
    assert (colours["w"], colours["h"]) == _png_size(data)
    return colours


@pytest.mark.parametrize("page", ["fleet", "target", "no-verdict"])
def test_screenshot_of_each_page(browser: Browser, fleet: Fleet, tmp_path: Path, page: str) -> None:
    ready: dict[str, Callable[[], None]] = {
        # no poll during the shot: the page stays the size it was measured at
        "fleet": lambda: open_fleet(browser, fleet, "?poll=300"),
        "target": lambda: browser.navigate(
            f"{fleet.url}/targets/{fleet.ids['grpc-stream-not-closed']}"
        ),
        "no-verdict": lambda: browser.navigate(f"{fleet.url}/targets/{fleet.ids['down']}"),
    }
    browser.events.clear()
    ready[page]()
    colours = _shoot(browser, tmp_path / f"serve-{page}.png")
    print(page, colours)
    assert colours["w"] == 1280 and colours["h"] >= 900, colours
    # a page with text, badges and charts, not a blank or an error page
    assert colours["distinct"] >= 150 and colours["top"] < 0.9, colours
    assert colours["topbar"], colours
    if page != "no-verdict":
        assert colours["leakRed"], colours


# -- security in the browser --------------------------------------------------------


def test_pages_forbid_everything_but_serve(fleet: Fleet) -> None:
    tid = fleet.ids["grpc-stream-not-closed"]
    for path in ("/", f"/targets/{tid}"):
        r = httpx.get(fleet.url + path, timeout=60)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'nonce-" in csp, csp
        nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
        assert r.text.count("<script") == r.text.count(f'nonce="{nonce}"') + 1  # + the JSON
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
    doc = fleet.serve.api(f"/api/targets/{tid}")
    name = doc["evidence"][-1]["name"]
    base = f"{fleet.url}/targets/{tid}/evidence"
    assert httpx.get(f"{base}/{name}/verdict.json", timeout=30).status_code == 200
    other = fleet.ids["down"]
    for bad in (
        f"{base}/{name}/serve.lock",
        f"{base}/{name}/..%2f..%2f..%2fserve.db",
        f"{base}/..%2f{name}/verdict.json",
        f"{fleet.url}/targets/{other}/evidence/{name}/verdict.json",  # another target's
    ):
        assert httpx.get(bad, timeout=30).status_code == 404, bad
    plain = httpx.get(f"{fleet.url}/api/targets", timeout=30)
    tag = plain.headers["etag"]
    assert "sparklines" not in plain.json()["targets"][0]
    again = httpx.get(f"{fleet.url}/api/targets", headers={"If-None-Match": tag}, timeout=30)
    assert again.status_code in (200, 304) and again.headers["etag"]


def test_the_token_guards_the_ui_and_a_browser_signs_in(browser: Browser, tmp_path: Path) -> None:
    token = "ui-token-4321"
    (tmp_path / "token").write_text(token + "\n")
    targets = write_targets(tmp_path / "t.json", [{"targets": [DOWN]}])
    args = ["--targets", str(targets), "--data", str(tmp_path / "data"), "--interval", "1s"]
    args += ["--token-file", str(tmp_path / "token")]
    with serving(args, tmp_path / "serve.log") as s:
        assert httpx.get(s.url + "/", timeout=30).status_code == 401
        assert httpx.get(s.url + "/api/targets?sparklines=1", timeout=30).status_code == 401
        basic = httpx.get(s.url + "/api/targets", auth=("anyone", token), timeout=30)
        assert basic.status_code == 200
        bad = httpx.get(s.url + "/", auth=("anyone", "wrong"), timeout=30)
        assert bad.status_code == 401
        assert bad.headers.get_list("www-authenticate") == [
            'Bearer realm="leakhunter"',
            'Basic realm="leakhunter"',
        ]
        # a browser without the token: headless Chromium cancels the sign-in prompt
        with pytest.raises(CDPError, match="AUTH"):
            browser.navigate(s.url + "/")
        browser.navigate("about:blank")  # the error page's own log lines arrive before this
        browser.events.clear()
        host = hostport(s.url)
        browser.navigate(f"http://anyone:{token}@{host}/?poll=1")
        wait_page(browser, "the fleet page", "window.leakhunterFleet && leakhunterFleet.ready")
        # the page's own polls carry the credentials the browser was given
        wait_page(
            browser,
            "two polls answered",
            "leakhunterFleet.polls >= 2 && leakhunterFleet.updates + leakhunterFleet.notModified"
            " >= 3 && document.getElementById('live').textContent.startsWith('live')",
        )
        assert len(visible(browser)) == 1
        check_clean(browser, s.url, f"http://anyone:{token}@{host}/")
