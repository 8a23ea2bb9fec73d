"""The HTML report in a real headless Chromium (Debian's package): renders, no errors, interactive.

Driven over the DevTools protocol (tests/cdp.py). Each page is checked for
console errors, log errors and uncaught exceptions, and for any request that
is not to the file itself (the report must work offline). Screenshots go to
the test's tmp dir, and to $LEAKHUNTER_SCREENSHOTS when set (to look at them).
Skipped, loudly, only when no Chromium is installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cdp import Browser, find_chromium
from leakhunter.report.data import gather
from leakhunter.report.html import render_html
from report_builders import big_session, edges_of, session_report

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not found: install Debian's chromium (scripts/setup.sh --test-tools "
    "does, as root) or point LEAKHUNTER_CHROMIUM at a Chromium binary",
)

BIG_HTML_LIMIT = 1_500_000  # bytes
BIG_RENDER_LIMIT_MS = 1500.0


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM is not None
    b = Browser(CHROMIUM)
    b.send("Network.enable")
    yield b
    b.close()


def open_report(browser: Browser, html: str, path: Path) -> None:
    path.write_text(html, encoding="utf-8")
    browser.events.clear()
    browser.navigate(path.as_uri())
    assert browser.evaluate("window.leakhunterReport && window.leakhunterReport.ready") is True


def check_clean(browser: Browser) -> None:
    assert browser.problems() == []
    fetched = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e["method"] == "Network.requestWillBeSent"
    ]
    assert all(url.startswith(("file:", "data:", "about:")) for url in fetched), fetched


def screenshot(browser: Browser, path: Path) -> Path:
    shot = browser.screenshot(path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    keep = os.environ.get("LEAKHUNTER_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return shot


@pytest.fixture(scope="module")
def leak_page(browser, tmp_path_factory):
    path = tmp_path_factory.mktemp("html") / "grpc-stream-not-closed.html"
    report = session_report("grpc-stream-not-closed")
    open_report(browser, render_html(report), path)
    return report


def rect(browser: Browser, selector: str) -> dict:
    return browser.evaluate(
        f"""(() => {{
          const el = document.querySelector({selector!r});
          el.scrollIntoView({{block: "center"}});
          const r = el.getBoundingClientRect();
          return {{x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width}};
        }})()"""
    )


def test_page_renders_without_errors(browser, leak_page, tmp_path):
    check_clean(browser)
    state = browser.evaluate(
        """({
          charts: window.leakhunterReport.charts,
          placeholders: document.querySelectorAll("[data-chart]").length,
          svgs: document.querySelectorAll("[data-chart] svg polyline").length,
          flames: Object.keys(window.leakhunterReport.flames).sort(),
          frames: document.querySelectorAll(".flame .fr").length,
          findings: document.querySelectorAll("article.finding").length,
          groups: document.querySelectorAll("table.groups tbody tr").length,
          banner: document.querySelector("#banner .badge").textContent,
          appFrames: document.querySelectorAll(".stack li.app").length,
          fix: document.querySelectorAll(".rule .fix").length,
        })"""
    )
    assert state["charts"] == state["placeholders"] == state["svgs"] > 0
    assert state["flames"] == ["diff", "heap"] and state["frames"] > 20
    v, groups = leak_page.verdict, leak_page.goroutines
    assert groups is not None
    assert state["findings"] == len(v.findings) and state["groups"] == len(groups.groups)
    assert state["fix"] == sum(1 for f in v.findings if f.rule is not None)
    assert state["banner"] == "LEAK" and state["appFrames"] > 0
    screenshot(browser, tmp_path / "report-grpc-stream-not-closed.png")


def test_click_zooms_into_a_frame(browser, leak_page):
    target = browser.evaluate(
        """(() => {
          const stage = document.querySelector('[data-flame="heap"] .flame-stage');
          const frames = [...stage.querySelectorAll(".fr")]
            .filter(f => f.dataset.i !== "0" && f.offsetWidth > 20
                    && f.offsetWidth < stage.clientWidth * 0.9);
          frames.sort((a, b) => b.offsetWidth - a.offsetWidth);
          return {i: frames[0].dataset.i, w: frames[0].offsetWidth, full: stage.clientWidth};
        })()"""
    )
    sel = f'[data-flame="heap"] .fr[data-i="{target["i"]}"]'
    at = rect(browser, sel)
    browser.click(at["x"], at["y"])
    after = browser.evaluate(
        f"""(() => {{
          const el = document.querySelector({sel!r});
          const f = window.leakhunterReport.flames.heap;
          return {{w: el.offsetWidth, crumb: document.querySelector(
            '[data-flame="heap"] .crumb.current').textContent, name: f.name({target["i"]}),
            zoomed: f.zoomed}};
        }})()"""
    )
    assert after["zoomed"] == int(target["i"])
    assert after["w"] > target["w"] and abs(after["w"] - target["full"]) <= 2
    assert after["crumb"] == after["name"]
    reset = rect(browser, '[data-flame="heap"] .reset')
    browser.click(reset["x"], reset["y"])
    assert (
        browser.evaluate(
            "document.querySelector('[data-flame=\"heap\"] .crumb.current').textContent"
        )
        == "all"
    )
    check_clean(browser)


def test_hover_shows_the_values(browser, leak_page):
    at = rect(browser, '[data-flame="heap"] .fr[data-i="1"]')
    browser.hover(at["x"], at["y"])
    tip = browser.evaluate(
        "({hidden: document.getElementById('tip').hidden,"
        " text: document.getElementById('tip').textContent})"
    )
    assert not tip["hidden"] and "of total" in tip["text"] and "inuse_space" in tip["text"]


def test_diff_flame_shows_growth_in_red(browser, leak_page):
    colours = browser.evaluate(
        "[...document.querySelectorAll('[data-flame=\"diff\"] .fr')].map(f => f.style.background)"
    )
    assert colours and any("rgb(2" in c or "hsl(2" in c for c in colours)  # reds


def test_search_marks_matching_frames(browser, leak_page):
    matches = browser.evaluate(
        r"""(() => {
          const box = document.querySelector('[data-flame="heap"] .search');
          const name = window.leakhunterReport.flames.heap.name(1);
          box.value = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          box.dispatchEvent(new Event("input"));
          return document.querySelectorAll('[data-flame="heap"] .fr.match').length;
        })()"""
    )
    assert matches >= 1
    check_clean(browser)


def test_a_no_leak_session_renders(browser, tmp_path):
    open_report(browser, render_html(session_report("bounded-lru")), tmp_path / "lru.html")
    check_clean(browser)
    assert browser.evaluate("document.querySelector('#banner .badge').textContent") == "NO-LEAK"


def test_a_big_session_opens_fast(browser, tmp_path):
    session = big_session(tmp_path)
    # the recorded verdict with the big session's views (analysis speed is tested elsewhere)
    report = gather(session_report("grpc-stream-not-closed").verdict, *edges_of(session))
    assert report.heap_flame is not None and report.heap_flame.pruned > 100_000
    html = render_html(report)
    size = len(html.encode())
    assert size < BIG_HTML_LIMIT, f"HTML of a 20k-stack session is {size} bytes"
    open_report(browser, html, tmp_path / "big.html")
    check_clean(browser)
    ms = browser.evaluate("window.leakhunterReport.renderMs")
    nav = browser.evaluate(
        "performance.getEntriesByType('navigation')[0].loadEventEnd"
        " - performance.getEntriesByType('navigation')[0].startTime"
    )
    print(f"big session: HTML {size} bytes, script {ms:.0f} ms, load {nav:.0f} ms")
    assert ms < BIG_RENDER_LIMIT_MS
    screenshot(browser, tmp_path / "report-big-session.png")
