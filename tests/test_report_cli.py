"""Report outputs from the command line: `report`, --html & co. on analyze and watch; terminal."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import replace

import pytest
from rich.cells import cell_len

from leakhunter.cli.main import main
from leakhunter.harness.fake import FakeGoTarget
from leakhunter.report.terminal import render_verdict_text
from report_builders import SESSIONS, sample_groups, sample_verdict

LEAK = SESSIONS / "grpc-stream-not-closed"
CONTROL = SESSIONS / "idle-worker-pool"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def embedded(html: str) -> dict:
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S)
    assert m, "no embedded report data"
    return json.loads(m.group(1))


def test_report_writes_every_format(tmp_path, capsys):
    out = {f: tmp_path / f"r.{f}" for f in ("html", "sarif", "junit", "pprof", "json")}
    args = [arg for f, p in out.items() for arg in (f"--{f}", str(p))]
    assert main(["report", str(LEAK), *args]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("leak: leak in ")
    for path in out.values():
        assert path.stat().st_size > 0
        assert f"wrote {path}" in captured.err
    data = embedded(out["html"].read_text())
    assert data["verdict"]["value"] == "leak"
    assert data["flames"]["heap"] and data["flames"]["diff"] and data["goroutines"]
    assert json.loads(out["sarif"].read_text())["version"] == "2.1.0"
    assert out["junit"].read_text().startswith("<?xml")
    assert gzip.decompress(out["pprof"].read_bytes())
    assert json.loads(out["json"].read_text())["schema"] == "leakhunter.verdict/1"


def test_report_needs_an_output(capsys):
    assert main(["report", str(LEAK)]) == 2
    assert "at least one output" in capsys.readouterr().err


def test_only_one_output_may_go_to_stdout(capsys):
    assert main(["report", str(LEAK), "--json", "-", "--sarif", "-"]) == 2
    assert "only one output can go to stdout" in capsys.readouterr().err


def test_report_to_stdout_prints_only_the_document(capsys):
    assert main(["report", str(CONTROL), "--sarif", "-"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["runs"][0]["results"] == []


def test_report_on_a_missing_session_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "--html", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such session directory" in err


def test_report_to_an_unwritable_path_is_one_line(tmp_path, capsys):
    target = tmp_path / "missing-dir" / "r.html"
    assert main(["report", str(LEAK), "--html", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_analyze_writes_html_and_still_prints_the_verdict(tmp_path, capsys):
    html = tmp_path / "leak.html"
    assert main(["analyze", str(LEAK), "--html", str(html)]) == 1
    out = capsys.readouterr().out
    assert "LEAK" in out and re.search(r"goroutines [\d,]+ in \d+ groups \(snapshot \d+", out)
    assert not ANSI.search(out), "piped output must be plain"
    assert "╭" not in out, "piped output has no boxes"
    assert embedded(html.read_text())["findings"]


def test_watch_html_uses_its_session(tmp_path, capsys):
    heap = gzip.decompress((LEAK / "000019.heap.pb.gz").read_bytes())
    html = tmp_path / "watch.html"
    with FakeGoTarget(heap_body=heap) as target:
        target.grow(heap=1 << 20, groups={"main.worker": 5})
        code = main(
            [
                "watch",
                target.url,
                "--snapshots",
                "3",
                "--interval",
                "20ms",
                "--out",
                str(tmp_path / "session"),
                "--html",
                str(html),
                "--quiet",
            ]
        )
    assert code in (0, 1, 3)
    data = embedded(html.read_text())
    assert data["session"]["directory"] == str(tmp_path / "session")
    assert data["flames"]["heap"]["total"] > 0
    assert data["goroutines"]["total"] >= 1


@pytest.mark.parametrize("width", [60, 80, 100, 140])
@pytest.mark.parametrize("color", [False, True])
def test_terminal_fits_the_width(width, color):
    text = render_verdict_text(
        sample_verdict(), width=width, color=color, goroutines=sample_groups()
    )
    for line in ANSI.sub("", text).splitlines():
        assert cell_len(line) <= width, f"{cell_len(line)} > {width}: {line!r}"
    assert ("\x1b[" in text) is color


def test_terminal_plain_shows_what_the_issue_asks():
    text = render_verdict_text(sample_verdict(), width=100, color=False, goroutines=sample_groups())
    assert "time to OOM                     ~90 min until 2.00GiB (GOMEMLIMIT)" in text
    assert "▁" in text  # sparklines
    assert "  ▶ example.com/shop/cache.(*Cache).Put  cache/cache.go:41" in text
    assert "why         Entries are added per request" in text
    assert "fix         Bound the cache" in text
    assert "40 → 940 in chan receive [channel], waiting up to 12 min, 3 marked leaked" in text
    # goroutine groups with wait states and durations
    assert re.search(r"940\s+40\s+chan receive \[channel\]\s+1-12 min", text)
    assert re.search(r"2\s+2\s+IO wait \[io\]\s+3 min", text)
    assert "pool.(*Pool[…]).Get" in text  # generic shapes collapsed


def test_terminal_never_interprets_markup():
    v = replace(sample_verdict(), target="http://[::1]:6060/[bold]x[/bold]")
    text = render_verdict_text(v, width=100, color=False)
    assert "http://[::1]:6060/[bold]x[/bold]" in text


def test_no_color_flag_and_env(capsys, monkeypatch):
    assert main(["analyze", str(CONTROL), "--no-color"]) == 0
    assert not ANSI.search(capsys.readouterr().out)
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["analyze", str(CONTROL)]) == 0
    assert not ANSI.search(capsys.readouterr().out)


def test_help_lists_the_report_flags(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    help_text = capsys.readouterr().out
    for flag in ("--json", "--html", "--sarif", "--junit", "--pprof"):
        assert flag in help_text


def test_report_html_without_a_session_still_renders(tmp_path):
    from leakhunter.report.data import ReportData
    from leakhunter.report.html import render_html

    html = render_html(ReportData(sample_verdict()))
    assert "No heap profile in this session." in html
    assert embedded(html)["flames"] == {"heap": None, "diff": None}
