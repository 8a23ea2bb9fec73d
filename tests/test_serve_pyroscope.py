"""Profiles to Grafana Pyroscope: the documented push request, retries, a bounded queue, secrets.

No Pyroscope server runs here: every check is against the documented request
format (push.v1.PushRequest over the Connect protocol), decoded on a real HTTP
receiver on 127.0.0.1 by the protobuf library (tests/pyroscope_receiver.py),
and the profiles inside are decoded with leakhunter's own pprof decoder.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakhunter.cli.main import main
from leakhunter.formats.pprof import decode
from leakhunter.serve.pyroscope import PyroscopeExporter, PyroscopeOptions
from leakhunter.serve.pyroscope_wire import (
    Series,
    encode_push,
    make_series,
    series_labels,
    service_name,
)
from pyroscope_receiver import PUSH_PATH, Receiver, decode_push
from serve_helpers import serving, simulated_targets, wait_for, write_targets

SESSION = Path(__file__).parent / "data" / "sessions" / "unbounded-map-cache"
HEAP = (SESSION / "000001.heap.pb.gz").read_bytes()
GOROUTINE = (SESSION / "000001.goroutine.pb.gz").read_bytes()
BLOBS = {"heap": HEAP, "goroutine": GOROUTINE, "goroutineleak": b"not exported"}
URL = "http://10.0.0.7:6060"
PASSWORD, TENANT = "s3cr3t-PW", "tenant-XYZ"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _exporter(url: str, lines: list[str], **kw: object) -> PyroscopeExporter:
    options = PyroscopeOptions(
        url,
        basic_auth=("lh", PASSWORD),
        tenant=TENANT,
        backoff=0.01,
        **kw,
    )
    return PyroscopeExporter(options, say=lines.append)


def test_the_request_decodes_as_the_documented_push_request() -> None:
    labels = {"team": "pay", "service_name": "payments", "__scheme__": "http", "bad-name": "x"}
    got = decode_push(encode_push(make_series(URL, labels, BLOBS)))
    assert [p.labels["__name__"] for p in got] == ["memory", "goroutine"]
    for p in got:
        assert p.labels == {
            "__name__": p.labels["__name__"],
            "service_name": "payments",
            "team": "pay",
            "instance": "10.0.0.7:6060",
        }
        ((raw, sample_id),) = p.samples
        assert len(sample_id) == 36  # a UUID
    heap, goroutine = (decode(p.samples[0][0], source="pushed") for p in got)
    assert got[0].samples[0][0] == HEAP  # the bytes as the target served them (gzipped)
    assert [t.type for t in heap.sample_types] == [
        "alloc_objects",
        "alloc_space",
        "inuse_objects",
        "inuse_space",
    ]
    assert [t.type for t in goroutine.sample_types] == ["goroutine"]


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_SERIES = st.builds(
    Series,
    st.lists(
        st.tuples(st.sampled_from(["__name__", "service_name", "team", "a", "zone_1"]), _TEXT),
        max_size=8,
    ).map(lambda pairs: tuple(sorted(dict(pairs).items()))),
    st.binary(max_size=3000),
    _TEXT,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_SERIES, max_size=5))
def test_any_request_decodes_to_what_was_encoded(series: list[Series]) -> None:
    got = decode_push(encode_push(series))
    assert [(tuple(sorted(p.labels.items())), p.samples) for p in got] == [
        (s.labels, [(s.profile, s.id)]) for s in series
    ]


@pytest.mark.parametrize(
    ("labels", "want"),
    [({"service_name": "a", "app": "b"}, "a"), ({"namespace": "shop", "app": "cart"}, "shop/cart"),
     ({"namespace": "shop", "container": "api"}, "shop/api"), ({"job": "batch"}, "batch"),
     ({}, "10.0.0.7:6060")],
)  # fmt: skip
def test_service_name(labels: dict[str, str], want: str) -> None:
    assert service_name(URL, labels) == want
    assert dict(series_labels("heap", URL, labels))["service_name"] == want


def test_retries_on_503_and_429_then_delivers_with_auth_and_tenant(receiver: Receiver) -> None:
    receiver.script = [503, 429]
    lines: list[str] = []
    ex = _exporter(receiver.url, lines)
    ex.offer(URL, {"team": "pay"}, BLOBS)
    ex.close()
    assert [r.status for r in receiver.requests] == [503, 429, 200]
    last = receiver.requests[-1]
    assert last.path == PUSH_PATH
    assert last.headers["content-type"] == "application/proto"
    assert last.headers["connect-protocol-version"] == "1"
    assert last.headers["x-scope-orgid"] == TENANT
    assert (
        last.headers["authorization"]
        == "Basic " + base64.b64encode(f"lh:{PASSWORD}".encode()).decode()
    )
    assert len(receiver.accepted()) == 2
    c = ex.counts()
    assert (c.sent, c.failed, c.dropped, c.queued) == (2, 0, 0, 0)
    assert lines == []


def test_a_refused_push_is_not_retried_and_says_one_line_without_secrets(
    receiver: Receiver,
) -> None:
    receiver.script = [400, 400]
    lines: list[str] = []
    ex = _exporter(receiver.url, lines)
    ex.offer(URL, {}, BLOBS)
    ex.close()
    assert [r.status for r in receiver.requests] == [400]
    assert ex.counts().failed == 2
    (line,) = lines
    assert "HTTP 400 unavailable: try later" in line and receiver.url.split("//")[1] in line
    assert PASSWORD not in line and TENANT not in line


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_pyroscope_is_one_line_never_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines: list[str] = []
    ex = _exporter(f"http://lh:{PASSWORD}@127.0.0.1:{_closed_port()}", lines, retries=1)
    for _ in range(3):
        ex.offer(URL, {}, BLOBS)
        time.sleep(0.2)
    ex.close()
    assert ex.counts().failed == 6
    (line,) = lines  # the same problem again within a minute: said once
    assert "ConnectError" in line and "127.0.0.1" in line and PASSWORD not in line
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err


def test_offer_never_blocks_and_counts_what_it_drops(receiver: Receiver) -> None:
    receiver.hold = threading.Event()  # Pyroscope hangs
    lines: list[str] = []
    ex = _exporter(receiver.url, lines, max_queued=4)

    def scrapes() -> None:
        for _ in range(50):
            ex.offer(URL, {}, BLOBS)

    # 50 scrapes' worth are offered while the push in flight hangs: had offer waited on
    # that push, the offers could not finish until the receiver is released below
    offering = threading.Thread(target=scrapes)
    offering.start()
    offering.join(120)
    assert not offering.is_alive(), "offer blocked behind the hanging push"
    c = ex.counts()
    assert c.queued <= 4 and c.dropped >= 100 - 4 - 64
    receiver.hold.set()
    ex.close()
    c = ex.counts()
    assert c.sent + c.failed + c.dropped == 100 and c.dropped > 0 and c.queued == 0


def test_serve_pushes_each_scrape_to_pyroscope(receiver: Receiver, tmp_path: Path) -> None:
    sim = simulated_targets()
    auth = tmp_path / "pyroscope.auth"
    auth.write_text(f"lh:{PASSWORD}\n")
    with sim.simulated(1, 1, local=True) as fleet:
        addr = fleet.targets[0][0]
        labels = {"service_name": "cache", "team": "pay"}
        targets = write_targets(tmp_path / "t.json", [{"targets": [addr], "labels": labels}])
        args = ["--targets", str(targets), "--data", str(tmp_path / "d"), "--interval", "1s"]
        args += ["--pyroscope-url", receiver.url, "--pyroscope-basic-auth", f"@{auth}"]
        args += ["--pyroscope-tenant", TENANT]
        with serving(args, tmp_path / "serve.log") as srv:
            got = wait_for("two pushed heaps", receiver.accepted, lambda a: len(a) >= 4, 60)
            metrics = httpx.get(srv.url + "/metrics", timeout=30).text
    memory = [p for p in got if p.labels["__name__"] == "memory"]
    assert memory[0].labels == {
        "__name__": "memory",
        "service_name": "cache",
        "team": "pay",
        "instance": addr,
    }
    served = {b["heap"] for b in sim.recording(fleet.targets[0][1]).blobs}
    assert memory[0].samples[0][0] in served  # the bytes the target answered, untouched
    assert decode(memory[0].samples[0][0], source="pushed").sample_types[3].type == "inuse_space"
    assert {r.headers["x-scope-orgid"] for r in receiver.requests} == {TENANT}
    sent = [
        ln for ln in metrics.splitlines() if ln.startswith("leakhunter_serve_export_sent_total")
    ]
    assert sent and float(sent[0].split()[-1]) >= 2
    assert "leakhunter_serve_export_dropped_total" in metrics
    log = (tmp_path / "serve.log").read_text()
    assert PASSWORD not in log and TENANT not in log and "Traceback" not in log


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--pyroscope-url", "ftp://pyroscope:4040"], "--pyroscope-url wants"),
     (["--pyroscope-url", "http://p:4040", "--pyroscope-basic-auth", "nocolon"], "USER:PASSWORD"),
     (["--pyroscope-url", "http://p:4040", "--pyroscope-basic-auth", "@/nonexistent/auth"],
      "cannot read --pyroscope-basic-auth"),
     (["--pyroscope-tenant", "t"], "need --pyroscope-url")],
)  # fmt: skip
def test_bad_pyroscope_options_are_one_line(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = write_targets(tmp_path / "t.json", [{"targets": ["127.0.0.1:9"]}])
    code = main(["serve", "--targets", str(targets), "--data", str(tmp_path / "d"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert "nocolon" not in err
