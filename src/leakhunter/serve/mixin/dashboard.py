"""The leakhunter Grafana dashboard: the fleet at a glance, then one target in depth.

Top half, the fleet: targets by status (counts and their history), the leak
findings with culprit, rule, growth and time-to-OOM (each row links to
serve's page of the target), the soonest OOMs, and the fastest growth. Bottom
half, the target picked in the ``target`` variable: verdict, live heap,
goroutines, descriptors against their limit, each finding's growth and the
time-to-OOM. The fleet panels read the recording rules; the per-target panels
read serve's series directly.
"""

from __future__ import annotations

import re
from typing import Any

from leakhunter.serve.mixin.grafana import Board, query, query_variable, value_mappings
from leakhunter.serve.mixin.options import MixinOptions, series
from leakhunter.serve.mixin.recording import (
    FINDING_GROWTH,
    FINDING_TTL,
    TARGET_STATUSES,
    growth_rule,
)

__all__ = ["DASHBOARD_UID", "dashboard", "panel_exprs"]

DASHBOARD_UID = "leakhunter"
_LABEL_REF = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_COLOURS = {"leak": "red", "suspect": "orange", "down": "text", "ok": "green"}
_TARGET = 'target="$target"'


def _link_base(options: MixinOptions, field: bool) -> str:
    """Return --serve-url for Grafana: ``{{ $labels.x }}`` becomes a field or a variable."""
    to = r"${__data.fields.\1}" if field else r"${\1}"
    return _LABEL_REF.sub(to, options.serve_url.rstrip("/"))


def _stat_options(**extra: str) -> dict[str, Any]:
    calcs = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    return {"reduceOptions": calcs, "colorMode": "background", "graphMode": "none", **extra}


def _merged(renames: dict[str, str]) -> list[dict[str, Any]]:
    """Join instant table queries row by row on their labels; name the value columns."""
    hide = {"Time": True, "__name__": True}
    return [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": hide, "renameByName": renames}},
    ]


def _fleet_status(board: Board, o: MixinOptions) -> None:
    counts = [
        query(series("leakhunter:targets:count", o, f'status="{s}"'), s, ref=chr(65 + i))
        for i, s in enumerate(TARGET_STATUSES)
    ]
    colours = [
        {
            "matcher": {"id": "byName", "options": s},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": c}}],
        }
        for s, c in _COLOURS.items()
    ]
    board.add(
        "stat",
        "Targets by status",
        counts,
        w=8,
        h=6,
        description="ok includes targets still in their warm-up (serve calls them pending).",
        options=_stat_options(textMode="value_and_name"),
        overrides=colours,
    )
    board.add(
        "timeseries",
        "Targets by status over time",
        counts,
        w=16,
        h=6,
        defaults={"custom": {"stacking": {"mode": "normal"}, "fillOpacity": 40}},
        overrides=colours,
    )


def _leaking_table(board: Board, o: MixinOptions) -> None:
    report = _link_base(o, field=True) + "/targets/${__data.fields.id}"
    board.add(
        "table",
        "Leaking targets",
        [
            query(series(FINDING_GROWTH, o), ref="A", instant=True, table=True),
            query(series(FINDING_TTL, o), ref="B", instant=True, table=True),
        ],
        w=24,
        h=8,
        description="One row per leak finding: the culprit, the matching rule, how fast it "
        "grows (in its unit per hour) and when the target runs out of memory at that rate. "
        "The target links to serve's report.",
        transformations=_merged({"Value #A": "growth per hour", "Value #B": "time to OOM"}),
        overrides=[
            {
                "matcher": {"id": "byName", "options": "time to OOM"},
                "properties": [{"id": "unit", "value": "s"}],
            },
            {
                "matcher": {"id": "byName", "options": "target"},
                "properties": [
                    {"id": "links", "value": [{"title": "leakhunter report", "url": report}]}
                ],
            },
        ],
    )


def _fleet_growth(board: Board, o: MixinOptions) -> None:
    board.add(
        "bargauge",
        "Time to OOM (soonest first)",
        [query(f"sort({series('leakhunter_time_to_oom_seconds', o)})", "{{target}}", instant=True)],
        w=8,
        h=8,
        unit="s",
        options={"displayMode": "basic", "orientation": "horizontal"},
    )
    for metric, title, unit in (
        ("leakhunter_heap_live_bytes", "Live heap growth per hour (top 10)", "bytes"),
        ("leakhunter_goroutines", "Goroutine growth per hour (top 10)", "short"),
    ):
        board.add(
            "timeseries",
            title,
            [query(f"topk(10, {series(growth_rule(metric, o), o)})", "{{target}}")],
            w=8,
            h=8,
            unit=unit,
            description=f"deriv over {o.window}, per hour.",
        )


def _target_stats(board: Board, o: MixinOptions, link: list[dict[str, Any]]) -> None:
    verdict = value_mappings({"0": ("no leak", "green"), "1": ("LEAK", "red")})
    up = value_mappings({"0": ("DOWN", "red"), "1": ("up", "green")})
    plain = {"color": {"mode": "fixed", "fixedColor": "blue"}}
    for title, metric, defaults in (
        ("Verdict", "leakhunter_leak", {"mappings": verdict}),
        ("Scrape", "leakhunter_target_up", {"mappings": up}),
        ("Time to OOM", "leakhunter_time_to_oom_seconds", plain | {"unit": "s"}),
        ("Live heap", "leakhunter_heap_live_bytes", plain | {"unit": "bytes"}),
    ):
        board.add(
            "stat",
            title,
            [query(series(metric, o, _TARGET), instant=True)],
            w=6,
            h=4,
            options=_stat_options(),
            defaults=defaults,
            links=link,
        )


def _target_graphs(board: Board, o: MixinOptions, link: list[dict[str, Any]]) -> None:
    growth = series("leakhunter_finding_growth_per_second", o, _TARGET)
    panels: tuple[tuple[str, list[dict[str, Any]], str], ...] = (
        ("Live heap (exact, after GC)", [_q(o, "leakhunter_heap_live_bytes", "heap")], "bytes"),
        ("Goroutines", [_q(o, "leakhunter_goroutines", "goroutines")], "short"),
        (
            "Open file descriptors",
            [_q(o, "leakhunter_open_fds", "open"), _q(o, "leakhunter_max_fds", "limit", "B")],
            "short",
        ),
        (
            "Findings' growth per hour",
            [query(f"3600 * {growth}", "{{kind}} {{culprit}} {{rule}} ({{unit}}/h)")],
            "short",
        ),
        ("Time to OOM", [_q(o, "leakhunter_time_to_oom_seconds", "time to OOM")], "s"),
    )
    for title, targets, unit in panels:
        board.add("timeseries", title, targets, w=12, h=8, unit=unit, links=link)
    board.add(
        "table",
        "Findings (leak = 1, suspect = 0)",
        [
            query(series("leakhunter_finding_leak", o, _TARGET), ref="A", instant=True, table=True),
            query(
                series("leakhunter_finding_confidence", o, _TARGET),
                ref="B",
                instant=True,
                table=True,
            ),
        ],
        w=12,
        h=8,
        transformations=_merged({"Value #A": "leak", "Value #B": "confidence"}),
        links=link,
    )


def _q(o: MixinOptions, metric: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return query(series(metric, o, _TARGET), legend, ref=ref)


def _variables(options: MixinOptions) -> list[dict[str, Any]]:
    up = series("leakhunter_target_up", options)
    of_target = series("leakhunter_target_up", options, _TARGET)
    variables: list[dict[str, Any]] = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "options": [],
            "regex": "",
            "refresh": 1,
            "hide": 0,
        },
        query_variable("target", "Target", f"label_values({up}, target)"),
    ]
    # the target's own labels a link needs (its id, and whatever --serve-url names)
    variables.extend(
        query_variable(label, label, f"label_values({of_target}, {label})", hidden=True)
        for label in dict.fromkeys(["id", *_LABEL_REF.findall(options.serve_url)])
    )
    return variables


def dashboard(options: MixinOptions) -> dict[str, Any]:
    """Return the dashboard's JSON model (``dashboards/leakhunter.json``)."""
    board = Board()
    board.row("Fleet")
    _fleet_status(board, options)
    _leaking_table(board, options)
    _fleet_growth(board, options)
    board.row("Target: $target")
    page = _link_base(options, field=False) + "/targets/${id}"
    link = [{"title": "leakhunter report of $target", "url": page, "targetBlank": True}]
    _target_stats(board, options, link)
    _target_graphs(board, options, link)
    return {
        "uid": DASHBOARD_UID,
        "title": "leakhunter",
        "description": "Memory and goroutine leaks found by leakhunter serve.",
        "tags": ["leakhunter"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": _variables(options)},
        "panels": board.panels,
    }


def panel_exprs(model: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (panel title, expr) of every query of every panel, for checking them."""
    return [
        (p["title"], t["expr"])
        for p in model["panels"]
        for t in p.get("targets", ())
        if "expr" in t
    ]
