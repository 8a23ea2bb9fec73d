"""serve on real services: a fleet of zoo targets, a kill -9 mid-run, the disk budget.

Everything is real: ``leakhunter serve`` runs as its own process (stopped with
SIGTERM, or killed with SIGKILL), watches real Go zoo services, a Python
service with the agent, a target that restarts and one that is down, and is
read over real HTTP. Every wait is on serve's state with a generous deadline
(a loaded two-core machine only makes these tests slower).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from leakhunter.harness.manifest import load_manifest
from leakhunter.harness.run import RunningScenario, start
from serve_helpers import Serving, hostport, serving, wait_for, write_targets

pytestmark = [pytest.mark.go, pytest.mark.slow]

MANIFEST = {s.name: s for s in load_manifest()}
LEAK, CONTROL, PY_LEAK, RESTARTS = (
    "gin-context-retained",
    "bounded-lru",
    "py-unbounded-dict-cache",
    "unbounded-map-cache",
)


def _lead(t: dict[str, Any]) -> dict[str, Any] | None:
    return next((f for f in t["findings"] if f["verdict"] == "leak"), None)


def _metrics(s: Serving) -> dict[tuple[str, str], float]:
    """(metric name, target) -> value of the target-level series."""
    out = {}
    text = httpx.get(s.url + "/metrics", timeout=30).text
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            if "kind" not in sample.labels and "target" in sample.labels:  # not serve's own lag
                out[(sample.name, sample.labels["target"])] = sample.value
    return out


def test_serve_judges_a_fleet_of_real_services(zoo_binary: Path, tmp_path: Path) -> None:
    runs: list[RunningScenario] = []
    try:
        # extend appends as it goes: what started is stopped even if a later start fails
        runs.extend(
            start(name, binary=zoo_binary, duration=600, linger=120)
            for name in (LEAK, CONTROL, PY_LEAK, RESTARTS)
        )
        leak, control, py, restarting = runs
        down = "127.0.0.1:9"  # discard port: nothing listens
        targets = write_targets(
            tmp_path / "targets.json",
            [
                {"targets": [hostport(leak.url), hostport(control.url)], "labels": {"team": "go"}},
                {"targets": [hostport(py.url)], "labels": {"team": "py"}},
                {"targets": [hostport(restarting.url), down], "labels": {"team": "ops"}},
            ],
        )
        args = ["--targets", str(targets), "--data", str(tmp_path / "data")]
        args += ["--interval", "1s", "--quiet-period", "4s", "--timeout", "20s"]
        with serving(args, tmp_path / "serve.log") as s:
            verdicts: dict[str, set[str]] = {}

            def states() -> dict[str, dict[str, Any]]:
                got = {t["target"]: t for t in s.api()["targets"]}
                for url, t in got.items():
                    verdicts.setdefault(url, set()).add(t["verdict"])
                return got

            def settled(got: dict[str, dict[str, Any]]) -> bool:
                return (
                    got[leak.url]["verdict"] == "leak"
                    and got[py.url]["verdict"] == "leak"
                    and got[control.url]["snapshots"] >= 20
                    and got[control.url]["verdict"] != "pending"
                    and got[f"http://{down}"]["status"] == "down"
                )

            got = wait_for("leaks judged and the control watched", states, settled, 240)
            # the restarting target: restart it on its port once it has a run behind it
            port = restarting.port
            restarting.stop()
            runs.append(
                start(
                    RESTARTS, binary=zoo_binary, duration=600, linger=120, addr=f"127.0.0.1:{port}"
                )  # fmt: skip
            )
            tid = got[restarting.url]["id"]
            doc = wait_for(
                "the restart seen and the new run judged",
                lambda: s.api(f"/api/targets/{tid}"),
                lambda d: d.get("restarts", 0) >= 1 and d["verdict"] == "leak",
                240,
            )
            got = states()
            assert "leak" not in verdicts[control.url], verdicts[control.url]
            assert got[control.url]["verdict"] == "no-leak"
            for run, name in ((leak, LEAK), (py, PY_LEAK)):
                lead = _lead(got[run.url])
                assert lead is not None, got[run.url]
                assert lead["culprit"]["function"] in MANIFEST[name].culprits, lead["culprit"]
            assert got[f"http://{down}"]["up"] is False
            assert any("restarted" in n for n in doc["notes"]), doc["notes"]
            assert got[leak.url]["labels"] == {"team": "go"}

            m = _metrics(s)
            assert m[("leakhunter_leak", leak.url)] == 1.0
            assert m[("leakhunter_leak", control.url)] == 0.0
            assert m[("leakhunter_target_up", f"http://{down}")] == 0.0
            assert m[("leakhunter_heap_live_bytes", leak.url)] > 0

            # the evidence of the moment it turned: profiles, a debug=2 dump, the verdict
            one = s.api(f"/api/targets/{got[leak.url]['id']}")
            assert one["evidence"], one["events"]
            folder = Path(one["evidence"][-1]["path"])
            names = {p.name for p in folder.iterdir()}
            assert {"heap.pb.gz", "goroutine2.txt.gz", "verdict.json"} <= names, names

            status = subprocess.run(
                [sys.executable, "-m", "leakhunter", "status", "--url", s.url, "--no-color"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert status.returncode == 1, status.stderr
            assert "gin" in status.stdout and "down" in status.stdout, status.stdout
            page = httpx.get(f"{s.url}/targets/{got[leak.url]['id']}", timeout=60)
            assert page.status_code == 200 and "<html" in page.text[:500].lower()
        log = (tmp_path / "serve.log").read_text()  # after SIGTERM: the last line is in
        assert f"{leak.url} leak:" in log and f"http://{down} down:" in log, log
        assert "every target's state is saved" in log, log
    finally:
        for run in runs:
            run.stop()


def test_kill_9_resumes_every_series_and_the_disk_budget_holds(
    zoo_binary: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with start(RESTARTS, binary=zoo_binary, duration=600, linger=120) as target:
        targets = write_targets(tmp_path / "t.json", [{"targets": [hostport(target.url)]}])
        base = ["--targets", str(targets), "--data", str(data), "--interval", "0.5s"]
        base += ["--quiet-period", "2s", "--timeout", "20s"]
        with serving(base, tmp_path / "first.log") as s:
            t = wait_for(
                "12 snapshots",
                lambda: s.target(target.url),
                lambda t: t["snapshots"] >= 12,
                180,
            )
            tid = t["id"]
            s.proc.kill()  # SIGKILL: no chance to save anything
            s.proc.wait()
        taken = t["snapshots"]
        # restart with a tiny budget and fast housekeeping: the killed run's segment is
        # closed on restart and is the first thing the budget takes
        again = [*base, "--disk-budget", "64KiB", "--housekeeping", "1s"]
        with serving(again, tmp_path / "second.log") as s2:
            # until its first scrape a target shows what was stored
            assert s2.target(target.url)["snapshots"] >= taken
            first = wait_for(
                "the first scrape after the restart",
                lambda: s2.target(target.url),
                lambda t2: t2["last_scrape"] != t["last_scrape"],
                120,
            )
            doc = s2.api(f"/api/targets/{tid}")
            # every snapshot the killed serve committed was replayed into the analyser
            assert doc["snapshots"] >= taken + 1, (doc["snapshots"], taken, first)
            segments = data / "targets" / tid / "segments"
            wait_for(
                "the budget to take the old segment",
                lambda: sorted(p.name for p in segments.iterdir()),
                lambda names: len(names) == 1,
                120,
            )
            later = wait_for(
                "scrapes to go on",
                lambda: s2.target(target.url),
                lambda t: t["snapshots"] >= taken + 6 and t["verdict"] == "leak",
                180,
            )
            assert later["snapshots"] >= taken + 6
    shutil.rmtree(data, ignore_errors=True)


def test_one_clock_per_target_across_segments(tmp_path: Path) -> None:
    """New segments (and restarts of serve) must not send the analyser's clock back.

    Found by the scale bench: elapsed counted from each hourly segment, so no window
    could ever be longer than an hour.
    """
    with start("py-bounded-lru", duration=600, linger=120) as target:
        targets = write_targets(tmp_path / "t.json", [{"targets": [hostport(target.url)]}])
        args = ["--targets", str(targets), "--data", str(tmp_path / "d"), "--interval", "0.5s"]
        args += ["--segment", "2s", "--quiet-period", "1s", "--timeout", "20s"]
        with serving(args, tmp_path / "serve.log") as s:
            tid = wait_for("a target", lambda: s.target(target.url), bool, 60)["id"]
            # both grow with time; how many snapshots fit in 7 s depends on the load
            # (a Python target's scrape took over 0.9 s on a loaded machine), so wait
            # for both rather than judge the count at the moment the window got long
            doc = wait_for(
                "a window longer than three segments, of at least 8 snapshots",
                lambda: s.api(f"/api/targets/{tid}"),
                lambda d: d.get("window_seconds", 0) > 7.0 and d.get("snapshots", 0) >= 8,
                180,
            )
        assert len(list((tmp_path / "d" / "targets" / tid / "segments").iterdir())) >= 3
        assert doc["window_seconds"] > 7.0 and doc["snapshots"] >= 8
