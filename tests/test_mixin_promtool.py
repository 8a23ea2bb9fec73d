"""The mixin on the real promtool: rule files check, every alert unit-tested, panels parse.

``promtool test rules`` replays hand-built series through the generated
rules with the default options (what a team deploys): each alert fires on a
leak series, with its annotations rendered exactly, and stays silent on a
warm-up plateau and on a sawtooth, checked every 5 minutes over 3 hours.
The series are what serve exports in each situation (a finding's 0/1, the
time-to-OOM that exists only while serve says leak, the raw gauges).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from leakhunter.serve.mixin import MixinOptions, render_mixin
from leakhunter.serve.mixin.dashboard import panel_exprs
from mixin_helpers import promtool

pytestmark = pytest.mark.prometheus

TARGET = 'target="http://a:1", id="a1", instance="serve:9480", job="leakhunter"'
LABELS = {"target": "http://a:1", "id": "a1", "instance": "serve:9480", "job": "leakhunter"}
CULPRIT = {"kind": "heap", "culprit": "main.cacheResponse", "rule": "GO-UNBOUNDED-CACHE"}
FINDING = TARGET + ', kind="heap", culprit="main.cacheResponse", rule="GO-UNBOUNDED-CACHE"'
REPORT = "http://serve:9480/targets/a1"
MINUTES = 180


def values(points: Iterable[float | str]) -> str:
    """Spell a list of samples (one a minute) in promtool's notation ("_" none, "stale" gone)."""
    return " ".join(p if isinstance(p, str) else f"{p:g}" for p in points)


def series(metric: str, labels: str, points: Iterable[float | str]) -> dict[str, str]:
    return {"series": f"{metric}{{{labels}}}", "values": values(points)}


def ramp(start: float, step: float, n: int) -> list[float]:
    return [start + step * i for i in range(n)]


def sawtooth(low: float, high: float, period: int, n: int = MINUTES + 1) -> list[float]:
    """Rise from low to high over period minutes, drop, again: a GC'd cache, a batch job."""
    return [low + (high - low) * (i % period) / (period - 1) for i in range(n)]


def flat(v: float, n: int = MINUTES + 1) -> list[float]:
    return [v] * n


def silent(alert: str, until: int = MINUTES) -> list[dict[str, Any]]:
    return [
        {"eval_time": f"{t}m", "alertname": alert, "exp_alerts": []} for t in range(0, until + 1, 5)
    ]


def fires(
    alert: str, minute: int, labels: dict[str, str], annotations: dict[str, str]
) -> dict[str, Any]:
    exp = {"exp_labels": labels, "exp_annotations": annotations}
    return {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": [exp]}


def quiet(alert: str, minute: int) -> dict[str, Any]:
    return {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": []}


def case(
    input_series: Sequence[dict[str, str]], checks: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    return {"interval": "1m", "input_series": list(input_series), "alert_rule_test": list(checks)}


def _heap_leak_series() -> list[dict[str, str]]:
    # suspect for 10 minutes (serve's quiet period), then a leak; 500 kB/s; the time
    # to OOM, published only while the verdict is leak, shrinks a minute a minute
    return [
        series("leakhunter_finding_leak", FINDING, [0] * 10 + [1] * (MINUTES - 9)),
        series(
            "leakhunter_finding_growth_per_second",
            FINDING + ', unit="bytes"',
            flat(500_000),
        ),
        series(
            "leakhunter_time_to_oom_seconds",
            TARGET,
            ["_"] * 10 + ramp(18_000, -60, MINUTES - 9),
        ),
        series("leakhunter_heap_live_bytes", TARGET, ramp(100e6, 30e6, MINUTES + 1)),
    ]


def _heap_plateau_series() -> list[dict[str, str]]:
    # the heap warms up for 10 minutes then holds; serve calls the finding suspect
    # during the warm-up and drops it once the plateau shows
    return [
        series(
            "leakhunter_heap_live_bytes", TARGET, ramp(10e6, 10e6, 10) + flat(100e6, MINUTES - 9)
        ),
        series("leakhunter_finding_leak", FINDING, [0] * 10 + ["stale"] + ["_"] * (MINUTES - 10)),
        series("leakhunter_leak", TARGET, flat(0)),
    ]


def _heap_sawtooth_series() -> list[dict[str, str]]:
    # a sawtooth heap whose verdict flaps (4 minutes leak, 4 not): the worst serve could say
    flaps = [1 if (i // 4) % 2 == 0 else 0 for i in range(MINUTES + 1)]
    ttl: list[float | str] = [10_800 if f else "stale" for f in flaps]
    return [
        series("leakhunter_heap_live_bytes", TARGET, sawtooth(50e6, 400e6, 10)),
        series("leakhunter_finding_leak", FINDING, flaps),
        series("leakhunter_finding_growth_per_second", FINDING + ', unit="bytes"', flat(500_000)),
        series("leakhunter_time_to_oom_seconds", TARGET, ttl),
    ]


def leak_annotations(time_to_oom: str) -> dict[str, str]:
    return {
        "summary": "http://a:1 leaks heap at main.cacheResponse",
        "description": (
            "leakhunter serve judges http://a:1 as leaking: heap grows 1.676GiB/h at "
            f"main.cacheResponse (GO-UNBOUNDED-CACHE); time to OOM: {time_to_oom}. "
            f"Report (stack, evidence, fix): {REPORT}"
        ),
        "culprit": "main.cacheResponse",
        "rule": "GO-UNBOUNDED-CACHE",
        "growth": "1.676GiB/h",
        "time_to_oom": time_to_oom,
        "report_url": REPORT,
    }


LEAK_LABELS = LABELS | CULPRIT | {"unit": "bytes", "severity": "warning"}


def leak_detected_cases() -> list[dict[str, Any]]:
    alert = "LeakhunterLeakDetected"
    # leak from minute 10, for: 5m; at minute 20 the time to OOM is 18000 - 60 * 10 s
    firing = fires(alert, 20, LEAK_LABELS, leak_annotations("4h 50m 0s"))
    return [
        case(_heap_leak_series(), [quiet(alert, 12), firing, quiet(alert, 5)]),
        case(_heap_plateau_series(), silent(alert)),
        case(_heap_sawtooth_series(), silent(alert)),
    ]


def out_of_memory_cases() -> list[dict[str, Any]]:
    alert = "LeakhunterOutOfMemorySoon"
    annotations = {
        "summary": "http://a:1 runs out of memory in 3h 45m 0s",
        "description": (
            "At the leak rate leakhunter measures, http://a:1 reaches its memory limit in "
            "3h 45m 0s (under 4h); the heap grows fastest at main.cacheResponse. "
            "Live heap now: 2.468GiB."
        ),
        "time_to_oom": "3h 45m 0s",
        "report_url": REPORT,
    }
    labels = LABELS | {"severity": "critical"}
    return [
        # under 4h from minute 71 (18000 - 60 * 61 s); firing 10 minutes later
        case(
            _heap_leak_series(),
            [quiet(alert, 75), fires(alert, 85, labels, annotations), quiet(alert, 60)],
        ),
        case(_heap_plateau_series(), silent(alert)),
        case(_heap_sawtooth_series(), silent(alert)),
    ]


def goroutine_cases() -> list[dict[str, Any]]:
    alert = "LeakhunterGoroutinesGrowing"
    g = "leakhunter_goroutines"
    annotations = {
        "summary": "http://a:1: goroutines grow 300/h",
        "description": (
            "The goroutine count of http://a:1 has risen by 300 per hour (fitted over 30m) "
            "for 30m; it is 425 now. When leakhunter also blames a site, "
            "LeakhunterLeakDetected names it."
        ),
        "growth": "300 goroutines/h",
        "report_url": REPORT,
    }
    labels = LABELS | {"severity": "warning"}
    return [
        # 5 a minute from the start: a full 30m window at minute 30, firing 30m later
        case(
            [series(g, TARGET, ramp(100, 5, MINUTES + 1))],
            [quiet(alert, 55), fires(alert, 65, labels, annotations)],
        ),
        # warm-up: +1000 in 10 minutes, then a plateau for good
        case([series(g, TARGET, ramp(100, 100, 10) + flat(1100, MINUTES - 9))], silent(alert)),
        # the target restarts an hour in and warms up again
        case(
            [series(g, TARGET, flat(1100, 60) + ramp(100, 100, 10) + flat(1100, MINUTES - 69))],
            silent(alert),
        ),
        # batch jobs: 900 goroutines built up over 10 (or 30) minutes, then all gone
        case([series(g, TARGET, sawtooth(100, 1000, 10))], silent(alert)),
        case([series(g, TARGET, sawtooth(100, 1100, 30))], silent(alert)),
    ]


def fd_cases() -> list[dict[str, Any]]:
    alert = "LeakhunterFdExhaustion"
    fds, limit = "leakhunter_open_fds", "leakhunter_max_fds"
    soon = {
        "summary": "http://a:1 runs out of file descriptors in 1h 59m 48s",
        "description": (
            "Open descriptors of http://a:1 rise steadily (fitted over 30m); at this rate they "
            "reach the process's limit in 1h 59m 48s. Look for files, sockets or response "
            "bodies never closed."
        ),
        "report_url": REPORT,
    }
    full = {
        "summary": "http://a:1 uses 92.77% of its file descriptors",
        "description": (
            "http://a:1 has used more than 90% of its descriptor limit for 30m; new "
            "connections and files fail at the limit."
        ),
        "report_url": REPORT,
    }
    return [
        # 5 more a minute, limit 1024: at minute 65, (1024 - 425) / (5/60) s = 1h 59m 48s
        case(
            [series(fds, TARGET, ramp(100, 5, MINUTES + 1)), series(limit, TARGET, flat(1024))],
            [quiet(alert, 55), fires(alert, 65, LABELS | {"severity": "warning"}, soon)],
        ),
        # stuck at 950 of 1024
        case(
            [series(fds, TARGET, flat(950)), series(limit, TARGET, flat(1024))],
            [quiet(alert, 25), fires(alert, 35, LABELS | {"severity": "critical"}, full)],
        ),
        # warm-up: a connection pool opens 500 descriptors in 10 minutes and keeps them
        case(
            [
                series(fds, TARGET, ramp(100, 50, 10) + flat(600, MINUTES - 9)),
                series(limit, TARGET, flat(1024)),
            ],
            silent(alert),
        ),
        # bursts of connections opened and closed, touching 97% of the limit each time
        case(
            [series(fds, TARGET, sawtooth(100, 1000, 10)), series(limit, TARGET, flat(1024))],
            silent(alert),
        ),
        # descriptors grow but the limit is unknown: no signal, no alert
        case([series(fds, TARGET, ramp(100, 5, MINUTES + 1))], silent(alert)),
    ]


def target_down_cases() -> list[dict[str, Any]]:
    alert = "LeakhunterTargetDown"
    up = "leakhunter_target_up"
    annotations = {
        "summary": "leakhunter cannot scrape http://a:1",
        "description": (
            "serve has had no answer from http://a:1 for 5m, so it has no verdict on it (a "
            "process that died out of memory looks like this too)."
        ),
        "report_url": REPORT,
    }
    labels = LABELS | {"severity": "warning"}
    flapping = [i % 2 for i in range(MINUTES + 1)]
    return [
        case(
            [series(up, TARGET, [1] * 10 + [0] * 30)],
            [quiet(alert, 14), fires(alert, 16, labels, annotations)],
        ),
        case([series(up, TARGET, flapping)], silent(alert)),
        case([series(up, TARGET, flat(1))], silent(alert)),
    ]


def recording_cases() -> list[dict[str, Any]]:
    """The fleet counts and the joins the dashboard reads."""

    def t(name: str) -> str:
        return f'target="http://{name}:1", id="{name}", instance="serve:9480", job="leakhunter"'

    finding = ', kind="heap", culprit="main.f", rule=""'
    inputs = [
        series("leakhunter_target_up", t(n), flat(u, 11))
        for n, u in (("leak", 1), ("suspect", 1), ("down", 0), ("ok", 1))
    ]
    inputs += [
        series("leakhunter_leak", t(n), flat(v, 11))
        for n, v in (("leak", 1), ("suspect", 0), ("down", 0), ("ok", 0))
    ]
    inputs += [
        series("leakhunter_finding_leak", t("leak") + finding, flat(1, 11)),
        series("leakhunter_finding_leak", t("suspect") + finding, flat(0, 11)),
        series(
            "leakhunter_finding_growth_per_second",
            t("leak") + finding + ', unit="bytes"',
            flat(1000, 11),
        ),
        series("leakhunter_time_to_oom_seconds", t("leak"), flat(7200, 11)),
        series("leakhunter_goroutines", t("ok"), ramp(100, 5, 11)),
    ]
    counts = [
        {"labels": f'leakhunter:targets:count{{status="{s}"}}', "value": 1}
        for s in ("leak", "suspect", "down", "ok")
    ]
    ttl_labels = t("leak") + ', kind="heap", culprit="main.f", unit="bytes"'
    ttl_name = "leakhunter:finding_leak:time_to_oom_seconds"
    return [
        {
            "interval": "1m",
            "input_series": inputs,
            "promql_expr_test": [
                {"expr": "leakhunter:targets:count", "eval_time": "10m", "exp_samples": counts},
                {
                    "expr": "leakhunter:finding_leak:time_to_oom_seconds",
                    "eval_time": "10m",
                    "exp_samples": [
                        {
                            "labels": f"{ttl_name}{{{ttl_labels}}}",
                            "value": 7200,
                        }
                    ],
                },
                {
                    "expr": "leakhunter:finding_leak:growth_per_hour",
                    "eval_time": "10m",
                    "exp_samples": [
                        {
                            "labels": f"leakhunter:finding_leak:growth_per_hour{{{ttl_labels}}}",
                            "value": 3.6e6,
                        }
                    ],
                },
                {
                    "expr": "leakhunter:goroutines_per_hour:deriv30m",
                    "eval_time": "10m",
                    "exp_samples": [
                        {
                            "labels": f"leakhunter:goroutines_per_hour:deriv30m{{{t('ok')}}}",
                            "value": 300,
                        }
                    ],
                },
            ],
        }
    ]


def _write_mixin(folder: Path, options: MixinOptions) -> None:
    for name, text in render_mixin(options).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _run_unit_tests(folder: Path, tests: list[dict[str, Any]]) -> None:
    doc = {
        "rule_files": ["prometheus_alerts.yaml", "prometheus_rules.yaml"],
        "evaluation_interval": "1m",
        "tests": tests,
    }
    (folder / "tests.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    done = promtool("test", "rules", "tests.yaml", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def mixin(tmp_path: Path) -> Path:
    _write_mixin(tmp_path, MixinOptions())
    return tmp_path


def test_promtool_checks_both_rule_files(mixin: Path) -> None:
    done = promtool("check", "rules", "prometheus_alerts.yaml", "prometheus_rules.yaml", cwd=mixin)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout and "SUCCESS: 9 rules found" in done.stdout


@pytest.mark.parametrize(
    "cases",
    [
        leak_detected_cases,
        out_of_memory_cases,
        goroutine_cases,
        fd_cases,
        target_down_cases,
        recording_cases,
    ],
    ids=lambda f: f.__name__.removesuffix("_cases"),
)
def test_promtool_unit_tests(mixin: Path, cases: Any) -> None:
    _run_unit_tests(mixin, cases())


def test_the_unit_tests_see_a_wrong_expectation(mixin: Path) -> None:
    # the harness is not vacuous: claim the plateau fires and promtool must say no
    wrong = case(_heap_plateau_series(), [fires("LeakhunterLeakDetected", 30, LABELS, {})])
    with pytest.raises(AssertionError, match="FAILED"):
        _run_unit_tests(mixin, [wrong])


def test_options_reach_the_rules(tmp_path: Path) -> None:
    # no for: on the leak (it fires at the first evaluation that sees it), and a
    # goroutine threshold above the leak's 300/h silences that alert
    _write_mixin(tmp_path, MixinOptions(leak_for=0, goroutines_per_hour=1000))
    leak = "LeakhunterLeakDetected"
    first = fires(leak, 10, LEAK_LABELS, leak_annotations("5h 0m 0s"))
    goroutines = [series("leakhunter_goroutines", TARGET, ramp(100, 5, MINUTES + 1))]
    _run_unit_tests(
        tmp_path,
        [
            case(_heap_leak_series(), [quiet(leak, 9), first]),
            case(goroutines, silent("LeakhunterGoroutinesGrowing")),
        ],
    )


def test_a_short_for_would_page_on_a_restart_warm_up(tmp_path: Path) -> None:
    # why the default for: is 30m: at 10m the warm-up after a restart already pages
    _write_mixin(tmp_path, MixinOptions(goroutines_for=600))
    restart_warm_up = goroutine_cases()[2]
    with pytest.raises(AssertionError, match="LeakhunterGoroutinesGrowing"):
        _run_unit_tests(tmp_path, [restart_warm_up])


def _exprs_as_rules(model: dict[str, Any]) -> dict[str, Any]:
    rules = [
        {"record": f"panel:check_{i}", "expr": expr}
        for i, (_, expr) in enumerate(panel_exprs(model))
    ]
    for v in model["templating"]["list"]:
        if v["type"] == "query":  # label_values(SELECTOR, label): the selector must parse
            inner = v["query"].removeprefix("label_values(").rsplit(",", 1)[0]
            rules.append({"record": f"variable:check_{v['name']}", "expr": inner})
    return {"groups": [{"name": "dashboard", "rules": rules}]}


@pytest.mark.parametrize("selector", ["", 'job="leakhunter", env=~"prod|staging"'])
def test_every_dashboard_query_parses(tmp_path: Path, selector: str) -> None:
    text = render_mixin(MixinOptions(selector=selector))["dashboards/leakhunter.json"]
    model = json.loads(text)
    (tmp_path / "panels.yaml").write_text(yaml.safe_dump(_exprs_as_rules(model)))
    done = promtool("check", "rules", "panels.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(panel_exprs(model)) >= 15


def test_the_dashboard_check_sees_a_bad_query(tmp_path: Path) -> None:
    model = {"panels": [{"title": "x", "targets": [{"expr": "deriv(leakhunter_goroutines[30m)"}]}],
             "templating": {"list": []}}  # fmt: skip
    (tmp_path / "panels.yaml").write_text(yaml.safe_dump(_exprs_as_rules(model)))
    done = promtool("check", "rules", "panels.yaml", cwd=tmp_path)
    assert done.returncode != 0
