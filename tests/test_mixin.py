"""The mixin generator without the tools: files, options, names against serve's metrics, layout.

promtool and Prometheus judge the rules in test_mixin_promtool.py and
test_mixin_e2e.py; this file checks what Python alone can: the CLI, how each
option reaches the rules, that every series named exists in serve's
/metrics, and the dashboard's JSON model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from leakhunter.cli.main import main
from leakhunter.serve.metrics import ServeCollector
from leakhunter.serve.mixin import MIXIN_FILES, MixinOptions, render_mixin
from leakhunter.serve.mixin.dashboard import panel_exprs
from leakhunter.serve.mixin.options import prom_duration
from leakhunter.serve.worker import TargetStatus

DESIGN_ALERTS = {
    "LeakhunterLeakDetected",
    "LeakhunterOutOfMemorySoon",
    "LeakhunterGoroutinesGrowing",
    "LeakhunterTargetDown",
}


def _docs(options: MixinOptions) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    files = render_mixin(options)
    return (
        yaml.safe_load(files["prometheus_alerts.yaml"]),
        yaml.safe_load(files["prometheus_rules.yaml"]),
        json.loads(files["dashboards/leakhunter.json"]),
    )


def _rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in doc["groups"] for r in g["rules"]]


def _all_exprs(options: MixinOptions) -> list[str]:
    alerts, rules, board = _docs(options)
    exprs = [r["expr"] for r in _rules(alerts) + _rules(rules)]
    exprs += [e for _, e in panel_exprs(board)]
    return exprs + [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]


def _serve_families() -> set[str]:
    """Every metric name serve's /metrics has, for a target with everything known."""
    finding = {
        "id": "f",
        "kind": "heap",
        "verdict": "leak",
        "confidence": 0.9,
        "culprit": {"function": "main.f"},
        "rule": {"id": "R"},
        "growth": {"unit": "bytes", "per_hour": 1.0},
    }
    st = TargetStatus(
        "a", "http://a:1", MappingProxyType({}), verdict="leak", up=True, scrape_seconds=0.1,
        heap=1.0, goroutines=1.0, fds=1.0, max_fds=2.0, time_to_oom=1.0,
        findings=(MappingProxyType(finding),),
    )  # fmt: skip
    reg = CollectorRegistry()
    reg.register(ServeCollector(lambda: [st], top_findings=5))
    text = generate_latest(reg).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_the_cli_writes_the_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mixin", "--out", str(tmp_path / "mixin")]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "mixin" / name) for name in MIXIN_FILES]
    for name in MIXIN_FILES:
        assert (tmp_path / "mixin" / name).read_text() == render_mixin(MixinOptions())[name]


def test_every_design_alert_and_fd_exhaustion_are_there() -> None:
    alerts, _, _ = _docs(MixinOptions())
    names = {r["alert"] for r in _rules(alerts)}
    assert names == DESIGN_ALERTS | {"LeakhunterFdExhaustion"}
    for r in _rules(alerts):
        assert r["labels"]["severity"] in ("warning", "critical")
        assert r["annotations"]["summary"] and r["annotations"]["description"]
        assert r["annotations"]["report_url"].endswith("/targets/{{ $labels.id }}")
    leak = next(r for r in _rules(alerts) if r["alert"] == "LeakhunterLeakDetected")
    assert {"culprit", "rule", "growth", "time_to_oom"} <= set(leak["annotations"])


def test_gauges_are_derived_never_rated() -> None:
    exprs = _all_exprs(MixinOptions())
    assert not [e for e in exprs if re.search(r"\b(i?rate|increase)\(", e)]
    alerts, _, _ = _docs(MixinOptions())
    goroutines = next(r for r in _rules(alerts) if r["alert"] == "LeakhunterGoroutinesGrowing")
    assert "deriv(leakhunter_goroutines[30m])" in goroutines["expr"]


def test_every_series_named_is_one_serve_exports_or_a_recorded_one() -> None:
    exported = _serve_families()
    assert "leakhunter_max_fds" in exported  # the descriptor limit the fd alert divides by
    _, rules, _ = _docs(MixinOptions())
    recorded = {r["record"] for r in _rules(rules)}
    named = {m for e in _all_exprs(MixinOptions()) for m in re.findall(r"leakhunter[:\w]*", e)}
    assert named - exported - recorded == set()


def test_options_reach_every_rule() -> None:
    o = MixinOptions(
        selector='job="lh", env=~"prod|qa"',
        serve_url="https://leaks.example.com/",
        runbook_url="https://wiki.example.com/leaks",
        leak_for=90,
        oom_within=7200,
        oom_for=0,
        deriv_window=3600,
        goroutines_per_hour=250,
        goroutines_for=2700,
        fd_ratio=0.8,
        fd_within=1800,
        fd_for=600,
        down_for=120,
    )
    alerts, _, board = _docs(o)
    rules = {(r["alert"], r["labels"]["severity"]): r for r in _rules(alerts)}
    assert rules["LeakhunterLeakDetected", "warning"]["for"] == "1m30s"
    assert rules["LeakhunterOutOfMemorySoon", "critical"]["for"] == "0s"
    assert "< 7200" in rules["LeakhunterOutOfMemorySoon", "critical"]["expr"]
    g = rules["LeakhunterGoroutinesGrowing", "warning"]
    assert "[1h]) > 250" in g["expr"] and "offset 1h" in g["expr"] and g["for"] == "45m"
    assert "< 1800" in rules["LeakhunterFdExhaustion", "warning"]["expr"]
    assert "> 0.8" in rules["LeakhunterFdExhaustion", "critical"]["expr"]
    assert rules["LeakhunterTargetDown", "warning"]["for"] == "2m"
    for r in rules.values():
        assert r["annotations"]["report_url"].startswith("https://leaks.example.com/targets/")
        assert r["annotations"]["runbook_url"].startswith("https://wiki.example.com/leaks#")
    # the selector is on every series read, in the rules, the panels and the variables
    for expr in _all_exprs(o):
        for name in re.findall(r"(leakhunter[:\w]*)\{?", expr):
            assert re.search(re.escape(name) + r'\{job="lh", env=~"prod\|qa"', expr), (name, expr)
    # a time-to-OOM lookup inside an annotation keeps the selector, % escaped for printf
    leak = rules["LeakhunterLeakDetected", "warning"]["annotations"]["time_to_oom"]
    assert 'leakhunter_time_to_oom_seconds{job="lh", env=~"prod|qa", id=%q' in leak
    link = json.dumps(board)
    assert "https://leaks.example.com/targets/${__data.fields.id}" in link


def test_a_percent_in_the_selector_is_escaped_for_printf() -> None:
    alerts, _, _ = _docs(MixinOptions(selector='path=~"/a%b"'))
    leak = next(r for r in _rules(alerts) if r["alert"] == "LeakhunterLeakDetected")
    assert 'path=~"/a%%b", id=%q' in leak["annotations"]["time_to_oom"]
    assert 'path=~"/a%b"' in leak["expr"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--selector", "{job='x'}"], "label matchers"),
        (["--selector", 'job="x`"'], "label matchers"),
        (["--serve-url", "leaks.example.com"], "http://"),
        (["--fd-ratio", "1.5"], "fraction"),
        (["--goroutines-per-hour", "-3"], "positive"),
        (["--leak-for", "soon"], "not a duration"),
    ],
)
def test_bad_options_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    try:
        code = main(["mixin", "--out", str(tmp_path), *args])
    except SystemExit as exc:  # argparse's own refusals (a bad number or duration)
        code = int(str(exc.code))
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (1.5, "1s500ms"), (300, "5m"), (5400, "1h30m"), (86400 + 60, "1d1m")],
)
def test_durations_are_spelled_as_prometheus_reads_them(seconds: float, text: str) -> None:
    assert prom_duration(seconds) == text


def test_the_dashboard_model_is_sound() -> None:
    _, _, board = _docs(MixinOptions())
    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["target"]["query"] == "label_values(leakhunter_target_up, target)"
    assert variables["id"]["hide"] == 2  # for the link to serve's page, not for choosing
    cells: set[tuple[int, int]] = set()
    rows = [p for p in panels if p["type"] == "row"]
    assert [r["title"] for r in rows] == ["Fleet", "Target: $target"]
    target_row_y = rows[1]["gridPos"]["y"]
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        mine = {(pos["x"] + dx, pos["y"] + dy) for dx in range(pos["w"]) for dy in range(pos["h"])}
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"])
        if pos["y"] > target_row_y:  # the per-target view reads the chosen target only
            assert all('target="$target"' in t["expr"] for t in p["targets"]), p["title"]
    titles = {p["title"] for p in panels}
    assert {"Targets by status", "Leaking targets", "Time to OOM (soonest first)"} <= titles
    assert {"Live heap (exact, after GC)", "Goroutines", "Open file descriptors"} <= titles
    assert {"Findings' growth per hour", "Time to OOM"} <= titles


def test_the_output_is_stable() -> None:
    assert render_mixin(MixinOptions()) == render_mixin(MixinOptions())
