"""The mixin end to end: real serve, real zoo services, real Prometheus and Alertmanager.

serve watches a leaking zoo service, a control and a port where nothing
listens; Prometheus scrapes serve every second and evaluates the generated
rules (short ``for:`` through the CLI options); Alertmanager routes to a
webhook receiver in this test. The leak must page, with its culprit in the
annotations and a report link that opens serve's page; the control must
never page; the dead port pages as down. Then every dashboard query runs on
that Prometheus. All on 127.0.0.1, every process stopped in the end, every
wait on state with a generous deadline.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from leakhunter.cli.main import main
from leakhunter.harness.manifest import load_manifest
from leakhunter.harness.run import start
from leakhunter.serve.mixin.dashboard import panel_exprs
from mixin_helpers import Daemon, free_port, start_daemon, tool, webhook
from serve_helpers import hostport, serving, wait_for, write_targets

pytestmark = [pytest.mark.go, pytest.mark.slow, pytest.mark.prometheus]

LEAK, CONTROL = "gin-context-retained", "bounded-lru"
LIMIT = 1 << 30  # bytes
DOWN = "127.0.0.1:9"  # the discard port: nothing listens
DEADLINE = 180.0  # seconds, for each wait: a loaded two-core machine is slow, not wrong


def _prometheus(tmp: Path, serve: str, alertmanager: str, rules: list[Path]) -> Daemon:
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rules],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [{"job_name": "leakhunter", "static_configs": [{"targets": [serve]}]}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    argv = [
        tool("prometheus"),
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return start_daemon(
        "prometheus", argv, tmp / "prometheus.log", f"http://127.0.0.1:{port}", "/-/ready"
    )


def _alertmanager(tmp: Path, hook: str) -> Daemon:
    port = free_port()
    config = {
        "route": {
            "receiver": "hook",
            "group_by": ["alertname", "target"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hook, "send_resolved": False}]}],
    }
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(config))
    argv = [
        tool("alertmanager"),
        f"--config.file={tmp / 'alertmanager.yml'}",
        f"--storage.path={tmp / 'am'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: one instance, no extra port
    ]
    return start_daemon(
        "alertmanager", argv, tmp / "alertmanager.log", f"http://127.0.0.1:{port}", "/-/ready"
    )


def _query(prom: Daemon, promql: str) -> list[dict[str, Any]]:
    r = httpx.get(prom.url + "/api/v1/query", params={"query": promql}, timeout=30)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (promql, body)
    return list(body["data"]["result"])


def test_prometheus_and_alertmanager_page_for_the_leak_only(
    zoo_binary: Path, tmp_path: Path
) -> None:
    manifest = {s.name: s for s in load_manifest()}
    began = time.monotonic()
    took: dict[str, float] = {}
    mixin = tmp_path / "mixin"
    short = ["--leak-for", "2s", "--oom-for", "2s", "--oom-within", "24h", "--down-for", "5s"]
    assert main(["mixin", "--out", str(mixin), *short, "--deriv-window", "1m"]) == 0
    rules = [mixin / "prometheus_alerts.yaml", mixin / "prometheus_rules.yaml"]
    with contextlib.ExitStack() as stack:
        # a soft memory limit (Go's GOMEMLIMIT, published in /debug/vars) gives the
        # leak a time to OOM; the control has none, so it has no time to OOM either
        limit = ["-memlimit", str(LIMIT)]
        leak = stack.enter_context(
            start(LEAK, binary=zoo_binary, duration=600, linger=120, extra_args=limit)
        )
        control = stack.enter_context(start(CONTROL, binary=zoo_binary, duration=600, linger=120))
        targets = write_targets(
            tmp_path / "targets.json",
            [
                {"targets": [hostport(leak.url), hostport(control.url)], "labels": {"team": "go"}},
                {"targets": [DOWN]},
            ],
        )
        args = ["--targets", str(targets), "--data", str(tmp_path / "data"), "--interval", "1s"]
        args += ["--quiet-period", "4s", "--timeout", "20s"]
        s = stack.enter_context(serving(args, tmp_path / "serve.log"))
        hook = stack.enter_context(webhook())
        am = _alertmanager(tmp_path, hook.url)
        stack.callback(am.stop)
        prom = _prometheus(tmp_path, hostport(s.url), hostport(am.url), rules)
        stack.callback(prom.stop)
        took["everything up"] = time.monotonic() - began

        def paged(name: str) -> list[dict[str, Any]]:
            if "serve says leak" not in took and s.target(leak.url)["verdict"] == "leak":
                took["serve says leak"] = time.monotonic() - began
            return [a for a in hook.alerts() if a["labels"]["alertname"] == name]

        alerts = wait_for(
            "the leak alert at the webhook", lambda: paged("LeakhunterLeakDetected"), bool, DEADLINE
        )
        took["webhook got LeakDetected"] = time.monotonic() - began
        oom = wait_for(
            "the OOM alert at the webhook",
            lambda: paged("LeakhunterOutOfMemorySoon"),
            bool,
            DEADLINE,
        )
        took["webhook got OutOfMemorySoon"] = time.monotonic() - began
        down = wait_for(
            "the down alert at the webhook", lambda: paged("LeakhunterTargetDown"), bool, DEADLINE
        )
        took["webhook got TargetDown"] = time.monotonic() - began
        assert {a["labels"]["target"] for a in down} == {f"http://{DOWN}"}, down
        got = alerts[0]
        assert {a["labels"]["target"] for a in alerts + oom} == {leak.url}, alerts + oom
        notes = got["annotations"]
        # humanizeDuration of the time to OOM serve projects to the 1 GiB limit
        assert re.fullmatch(r"(\d+d )?(\d+h )?(\d+m )?[\d.]+s", notes["time_to_oom"]), notes
        assert oom[0]["annotations"]["summary"].startswith(f"{leak.url} runs out of memory in")
        assert notes["culprit"] in manifest[LEAK].culprits, notes
        assert got["labels"]["culprit"] == notes["culprit"] and got["labels"]["team"] == "go"
        assert notes["growth"].endswith("B/h") and notes["culprit"] in notes["description"]
        assert notes["rule"] == (manifest[LEAK].rule or ""), notes
        # the link opens serve's page of that target (the default --serve-url: the
        # instance Prometheus scraped)
        page = httpx.get(notes["report_url"], timeout=60)
        assert page.status_code == 200 and "<html" in page.text[:500].lower(), notes
        assert notes["report_url"] == f"{s.url}/targets/{got['labels']['id']}"

        # the control, judged over as many snapshots, never leaked nor paged
        judged = wait_for(
            "the control judged",
            lambda: s.target(control.url),
            lambda t: t["verdict"] == "no-leak" and t["snapshots"] >= 20,
            DEADLINE,
        )
        wait_for(  # Prometheus has evaluated the rules on the control's settled state
            "Prometheus to have scraped the settled control",
            lambda: _query(prom, f'leakhunter_snapshots_total{{target="{control.url}"}}'),
            lambda r: bool(r) and float(r[0]["value"][1]) >= judged["snapshots"],
            DEADLINE,
        )
        # over the whole run, scraped every second: no leak verdict, no alert, even pending
        ever = _query(prom, f'max_over_time(leakhunter_leak{{target="{control.url}"}}[1h])')
        assert [float(r["value"][1]) for r in ever] == [0.0], ever
        alerted = f'ALERTS{{alertname="LeakhunterLeakDetected", target="{control.url}"}}[1h]'
        assert not _query(prom, f"count_over_time({alerted})")
        assert not [a for a in hook.alerts() if a["labels"]["target"] == control.url]

        # every dashboard query runs on this Prometheus; the key ones see the leak
        board = json_model(mixin)
        for _, expr in panel_exprs(board):
            _query(prom, expr.replace("$target", leak.url))
        wait_for(
            "the fleet count of leaking targets",
            lambda: _query(prom, 'leakhunter:targets:count{status="leak"}'),
            lambda r: bool(r) and float(r[0]["value"][1]) == 1,
            DEADLINE,
        )
        for recorded in ("growth_per_hour", "time_to_oom_seconds"):  # the table's two columns
            rows = _query(prom, f"leakhunter:finding_leak:{recorded}")
            assert notes["culprit"] in {r["metric"]["culprit"] for r in rows}, rows
            assert {r["metric"]["target"] for r in rows} == {leak.url}, rows
        for gauge in ("leakhunter_heap_live_bytes", "leakhunter_open_fds", "leakhunter_max_fds"):
            got_gauge = _query(prom, f'{gauge}{{target="{leak.url}"}}')  # local: from /proc
            assert got_gauge and float(got_gauge[0]["value"][1]) > 0, gauge
        assert not [a for a in hook.alerts() if a["labels"]["target"] == control.url]
        took["done"] = time.monotonic() - began
    print("\nmixin e2e timings (s since start):", {k: round(v, 1) for k, v in took.items()})
    print("alert annotations:", notes)


def json_model(mixin: Path) -> dict[str, Any]:
    """Return the generated dashboard's JSON model."""
    return dict(json.loads((mixin / "dashboards" / "leakhunter.json").read_text()))
