"""The HTML page without a browser: self-contained, escaped, embedded data intact, bounded size."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from leakhunter.report.data import GatherOptions, ReportData, gather
from leakhunter.report.html import embed_json, render_html
from leakhunter.report.html_data import REPORT_DATA_SCHEMA, html_data
from report_builders import (
    SESSIONS,
    big_session,
    edges_of,
    sample_report,
    sample_verdict,
    session_report,
)

EVIL = '</script><script>alert("x")</script><!-- \u2028 & <b>'


def embedded(html: str) -> dict:
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_embed_json_cannot_close_the_script_element():
    text = embed_json({"x": EVIL})
    assert "</script" not in text and "<!--" not in text and "<b>" not in text
    assert json.loads(text) == {"x": EVIL}


def test_page_is_self_contained():
    html = render_html(sample_report())
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    assert not re.search(
        r"""(src|href)=["']?(https?:)?//""", html.replace('href="https://go.dev', "")
    )
    assert html.count("<script") == 2  # the data and the inlined script
    assert "<style>" in html and "function Flame(" in html


def test_text_is_escaped_and_data_survives():
    v = sample_verdict()
    f = replace(v.findings[0], evidence=(EVIL,))
    report = ReportData(replace(v, summary=EVIL, findings=(f, *v.findings[1:])))
    html = render_html(report)
    assert EVIL not in html
    assert "&lt;/script&gt;&lt;script&gt;alert" in html
    data = embedded(html)
    assert data["verdict"]["summary"] == EVIL and data["findings"][0]["evidence"] == [EVIL]
    assert data["schema"] == REPORT_DATA_SCHEMA


def test_page_shows_every_section():
    html = render_html(session_report("grpc-stream-not-closed"))
    for anchor in ("banner", "overview", "findings", "heap-flame", "diff-flame", "goroutines"):
        assert f'id="{anchor}"' in html
    assert 'data-flame="heap"' in html and 'data-flame="diff"' in html
    data = embedded(html)
    assert data == json.loads(json.dumps(html_data(session_report("grpc-stream-not-closed"))))


def test_flame_arrays_are_consistent():
    data = html_data(session_report("grpc-stream-not-closed"))
    for fg in data["flames"].values():
        n = len(fg["p"])
        assert len(fg["n"]) == len(fg["f"]) == len(fg["o"]) == len(fg["v"]) == n
        assert fg["d"] == [] or len(fg["d"]) == n
        assert fg["p"][0] == -1 and all(0 <= fg["p"][i] < i for i in range(1, n))
        assert max(fg["n"]) < len(fg["strings"]) and max(fg["o"]) < len(fg["origins"])
        assert fg["v"][0] == fg["total"]


def test_views_can_be_left_out():
    edges, info = edges_of(SESSIONS / "bounded-lru")
    report = gather(sample_verdict(), edges, info, GatherOptions(flames=False))
    data = html_data(report)
    assert data["flames"] == {"heap": None, "diff": None} and data["goroutines"] is not None


def test_html_size_is_bounded_on_a_big_session(tmp_path):
    session = big_session(tmp_path, n_stacks=6000)
    report = gather(sample_verdict(), *edges_of(session))
    assert report.heap_flame is not None and report.heap_flame.pruned > 10_000
    assert len(report.heap_flame.names) <= GatherOptions().flame.max_nodes
    assert len(render_html(report).encode()) < 1_000_000
