"""serve's parts on their own: the SQLite store, retention and the budget, the metrics.

The store is a real SQLite file; retention works on real session folders (a
recorded zoo session copied in as segments); the metrics are parsed back with
prometheus-client's own parser.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from leakhunter.collect.session import frozen_guards, load_session
from leakhunter.harness.recorded import recorded_dir
from leakhunter.serve.metrics import ServeCollector, label_name
from leakhunter.serve.options import ServeOptions
from leakhunter.serve.retention import enforce
from leakhunter.serve.store import Point, Store, StoreError
from leakhunter.serve.worker import TargetStatus

DAY = 86400.0


def test_store_keeps_targets_findings_and_state(tmp_path: Path) -> None:
    db = Store(tmp_path / "serve.db")
    db.upsert_target("a", "http://a:1", {"team": "x"}, "file_sd:t.json")
    db.upsert_target("b", "http://b:1", {}, "file_sd:t.json")
    finding = {"id": "heap:1", "kind": "heap", "verdict": "suspect"}
    for t in (100.0, 160.0):
        db.record_scrape(
            "a",
            Point(t, 0, 1e6, 10, None, None, True),
            status="suspect",
            verdict="no-leak",
            memstats={"HeapAlloc": 1, "NumGC": 2},
            run_started=100.0,
            findings={"heap:1": finding},
        )
    (got, first, last), = db.findings("a")  # fmt: skip
    assert got == finding and (first, last) == (100.0, 160.0)  # first seen is kept
    assert [p.time for p in db.points("a")] == [100.0, 160.0]
    a = next(r for r in db.targets() if r.id == "a")
    assert (a.snapshots, a.status, a.last_memstats) == (2, "suspect", {"HeapAlloc": 1, "NumGC": 2})
    assert db.deactivate_missing({"a"}) == ["b"]
    assert [r.id for r in db.targets()] == ["a"]
    assert len(db.targets(active_only=False)) == 2
    db.save_state("a", b"state", "seg:7")
    db.add_event("a", "ok", "leak", "heap grows")
    db.close()

    again = Store(tmp_path / "serve.db")  # what a restart reads back
    assert again.load_state("a") == (b"state", "seg:7")
    assert again.events("a")[0]["status"] == "leak"
    again.upsert_target("b", "http://b:1", {"team": "y"}, "file_sd:t.json")
    assert next(r for r in again.targets() if r.id == "b").labels == {"team": "y"}
    again.close()


def test_a_database_of_another_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "serve.db").close()
    with sqlite3.connect(tmp_path / "serve.db") as raw:
        raw.execute("UPDATE meta SET value='99' WHERE key='schema'")
    with pytest.raises(StoreError, match="schema 99"):
        Store(tmp_path / "serve.db")


def _segments(tmp_path: Path, store: Store, now: float) -> list[Path]:
    """Three copies of a recorded session as closed segments aged 10 d, 2 d and 1 h."""
    src = recorded_dir() / "unbounded-map-cache"
    out = []
    for i, age in enumerate((10 * DAY, 2 * DAY, 3600.0)):
        seg = tmp_path / "targets" / "t1" / "segments" / f"s{i}"
        shutil.copytree(src, seg)
        size = sum(p.stat().st_size for p in seg.iterdir())
        store.add_file(str(seg), "t1", "segment", now - age, size)
        store.set_file(str(seg), size, closed=True)
        out.append(seg)
    return out


def test_retention_thins_expires_and_keeps_evidence(tmp_path: Path) -> None:
    store = Store(tmp_path / "serve.db")
    now = 1.8e9
    old, middle, recent = _segments(tmp_path, store, now)
    before = len(load_session(middle).snapshots)
    evidence = tmp_path / "targets" / "t1" / "evidence" / "e1"
    evidence.mkdir(parents=True)
    (evidence / "verdict.json").write_text("{}")
    store.add_file(str(evidence), "t1", "evidence", now - 9 * DAY, 2)
    opts = ServeOptions(data=tmp_path, raw_retention=6 * 3600, thin_every=5.0, retention=7 * DAY)
    report = enforce(store, opts, now)
    assert not old.exists() and report.deleted == 1  # past retention
    assert evidence.exists()  # evidence is kept 30 days
    thinned = load_session(middle).snapshots
    assert 1 <= len(thinned) < before  # one snapshot per 5 s of the recording is left
    gaps = [b.record.time - a.record.time for a, b in zip(thinned, thinned[1:], strict=False)]
    assert all(g >= 5.0 - 1e-6 for g in gaps), gaps
    assert len(load_session(recent).snapshots) == before  # within raw retention: whole
    assert {f.kind for f in store.files()} == {"thinned", "segment", "evidence"}
    store.close()


def test_the_disk_budget_takes_old_segments_first_and_never_the_open_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "serve.db")
    now = 1.8e9
    segs = _segments(tmp_path, store, now)
    store.set_file(str(segs[2]), store.files()[2].bytes, closed=False)  # still written to
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "heap.pb.gz").write_bytes(b"x" * 1000)
    store.add_file(str(evidence), "t1", "evidence", now - 20 * DAY, 1000)
    open_bytes = store.files("segment")[-1].bytes
    budget = open_bytes + 1500
    opts = ServeOptions(data=tmp_path, disk_budget=budget, raw_retention=30 * DAY,
                        retention=60 * DAY)  # fmt: skip
    report = enforce(store, opts, now)
    assert not segs[0].exists() and not segs[1].exists() and segs[2].exists()
    assert evidence.exists()  # evidence goes last: the budget held without it
    assert report.disk_bytes <= budget
    store.close()


def _status(tid: str, labels: dict[str, str], findings: int) -> TargetStatus:
    fs = tuple(
        MappingProxyType(
            {
                "id": f"f{i}",
                "kind": "heap",
                "verdict": "leak" if i % 2 == 0 else "suspect",
                "confidence": 0.9 - i / 100,
                "culprit": {"function": f"main.site{i // 2}"},  # two findings per culprit
                "rule": {"id": "GO-GENERIC-HEAP-GROWTH"},
                "growth": {"unit": "bytes", "per_hour": 3600.0 * (i + 1)},
            }
        )
        for i in range(findings)
    )
    return TargetStatus(
        tid, f"http://{tid}:1", MappingProxyType(labels), status="leak", verdict="leak", up=True,
        snapshots=5, heap=1e6, goroutines=12, time_to_oom=3600.0, findings=fs,
    )  # fmt: skip


def test_metrics_follow_the_contract_and_bound_cardinality() -> None:
    sts = [
        _status("a", {"team": "x", "target": "clash", "__meta": "m"}, 12),
        _status("b", {"zone": "eu-1"}, 30),
    ]
    reg = CollectorRegistry()
    reg.register(ServeCollector(lambda: sts, top_findings=8))
    text = generate_latest(reg).decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    up = {s.labels["target"]: s.labels for s in fams["leakhunter_target_up"].samples}
    assert up["http://a:1"]["team"] == "x" and up["http://a:1"]["zone"] == ""
    assert up["http://a:1"]["exported_target"] == "clash"  # never overrides serve's own
    assert up["http://b:1"]["zone"] == "eu-1"
    leak = [
        s for s in fams["leakhunter_finding_leak"].samples if s.labels["target"] == "http://a:1"
    ]
    # 12 findings on 6 culprits (a leak and a suspect each): one series per (kind, culprit,
    # rule), or Prometheus refuses the scrape; and never more than top_findings
    assert len(leak) == 6 and len({s.labels["culprit"] for s in leak}) == 6
    assert all(s.value == 1.0 for s in leak)  # the leak of each pair, ranked first
    b = [s for s in fams["leakhunter_finding_leak"].samples if s.labels["target"] == "http://b:1"]
    assert len(b) == 8  # 15 distinct culprits, capped
    growth = fams["leakhunter_finding_growth_per_second"].samples
    assert {s.labels["unit"] for s in growth} == {"bytes"}
    assert "leakhunter_scrape_errors_total" in text and "leakhunter_snapshots_total" in text
    ttl = fams["leakhunter_time_to_oom_seconds"].samples
    assert {s.value for s in ttl} == {3600.0}
    # every series names the target's id too: an alert links to /targets/{id} with it
    pairs = {(s.labels["target"], s.labels["id"]) for f in fams.values() for s in f.samples
             if "target" in s.labels}  # fmt: skip
    assert pairs == {("http://a:1", "a"), ("http://b:1", "b")}


def test_metrics_export_the_descriptor_limit_where_known() -> None:
    known = replace(_status("a", {"id": "mine"}, 0), fds=40.0, max_fds=1024.0)
    unknown = _status("b", {}, 0)
    reg = CollectorRegistry()
    reg.register(ServeCollector(lambda: [known, unknown], top_findings=8))
    fams = {f.name: f for f in text_string_to_metric_families(generate_latest(reg).decode())}
    (limit,) = fams["leakhunter_max_fds"].samples
    assert limit.value == 1024.0 and limit.labels["id"] == "a"
    assert limit.labels["exported_id"] == "mine"  # a target label "id" never overrides serve's


def test_metrics_export_a_python_targets_guards_with_its_labels() -> None:
    guards = frozen_guards(
        {
            "buffers": {"outbox": {"policy": "drop-oldest", "capacity": 10, "items": 5,
                                   "puts": 40, "gets": 5, "dropped": 30, "full": 30}},
            "pools": {"frames": {"gets": 8, "hits": 6, "idle": 2, "in_use": 1}},
        }
    )  # fmt: skip
    py = replace(_status("py", {"team": "x"}, 0), guards=guards)
    reg = CollectorRegistry()
    reg.register(ServeCollector(lambda: [py, _status("go", {}, 0)], top_findings=8))
    fams = {f.name: f for f in text_string_to_metric_families(generate_latest(reg).decode())}
    (dropped,) = fams["leakhunter_buffer_dropped"].samples
    assert dropped.name == "leakhunter_buffer_dropped_total" and dropped.value == 30.0
    assert dropped.labels == {"target": "http://py:1", "id": "py", "team": "x", "buffer": "outbox"}
    (fill,) = fams["leakhunter_buffer_fill_ratio"].samples
    assert fill.value == 0.5
    (hit,) = fams["leakhunter_pool_hit_ratio"].samples
    assert hit.value == 0.75 and hit.labels["pool"] == "frames"


@pytest.mark.parametrize(
    ("raw", "name"),
    [("team", "team"), ("app.kubernetes.io/name", "app_kubernetes_io_name"),
     ("9lives", "_9lives"), ("kind", "exported_kind"), ("__x__", "x__")],
)  # fmt: skip
def test_label_names_are_valid(raw: str, name: str) -> None:
    assert label_name(raw) == name
