from __future__ import annotations

import itertools
import random
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakhunter.collect.fetch import Fetcher, FetchError, FetchOptions, fetch
from leakhunter.errors import TargetError
from leakhunter.harness.fake import FakeServer, Reply, Request


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_canned_bytes(server: FakeServer) -> None:
    body = bytes(range(256)) * 100
    server.routes["/p"] = lambda r: Reply(body=body, headers=(("Content-Type", "a/b"),))
    with Fetcher() as f:
        resp = f.get(server.url + "/p")
    assert resp.content == body and resp.status == 200
    assert resp.content_type == "a/b" and not resp.truncated
    assert fetch(server.url + "/p") == body


def test_connection_refused_is_one_line() -> None:
    url = f"http://127.0.0.1:{_free_port()}/debug/pprof/heap"
    with pytest.raises(TargetError) as info:
        Fetcher(FetchOptions(retries=0)).get(url)
    msg = str(info.value)
    assert "connection refused" in msg and url in msg and "\n" not in msg
    assert isinstance(info.value, FetchError) and info.value.status is None


def test_timeout(server: FakeServer) -> None:
    # The answer is held until the client has given up: only the timeout can end the
    # request (a fixed 1 s delay could beat a late 0.2 s timeout on a loaded machine).
    release = threading.Event()

    def held(r: Request) -> Reply:
        release.wait(120)
        return Reply(body=b"x")

    server.routes["/slow"] = held
    try:
        with pytest.raises(FetchError, match=r"timed out after 0\.2s"):
            Fetcher(FetchOptions(timeout=0.2, retries=0)).get(server.url + "/slow")
    finally:
        release.set()


def test_slow_drip_body_hits_overall_timeout(server: FakeServer) -> None:
    server.routes["/drip"] = lambda r: Reply(body=b"x" * 20_000, drip=0.05)
    with pytest.raises(FetchError, match="timed out"):
        Fetcher(FetchOptions(timeout=0.3, retries=0)).get(server.url + "/drip")


def test_http_error_has_status_and_excerpt(server: FakeServer) -> None:
    server.routes["/bad"] = lambda r: Reply(403, b"forbidden:\n   no pprof for you " + b"x" * 500)
    with pytest.raises(FetchError) as info:
        Fetcher().get(server.url + "/bad")
    err = info.value
    assert err.status == 403 and not err.retryable
    assert "HTTP 403 Forbidden: forbidden: no pprof for you" in str(err)
    assert str(err).endswith("...") and "\n" not in str(err)
    assert server.hits("/bad") == 1  # 4xx is not retried


def test_retries_500_then_200_with_backoff(server: FakeServer) -> None:
    answers = itertools.chain(
        [Reply(500, b"boom"), Reply(503)], itertools.repeat(Reply(body=b"ok"))
    )
    server.routes["/flaky"] = lambda r: next(answers)
    sleeps: list[float] = []
    opts = FetchOptions(retries=3, backoff=0.5, jitter=0.2)
    fetcher = Fetcher(opts, sleep=sleeps.append, rng=random.Random(1))
    assert fetcher.get(server.url + "/flaky").content == b"ok"
    assert server.hits("/flaky") == 3
    assert len(sleeps) == 2
    assert 0.4 <= sleeps[0] <= 0.6 and 0.8 <= sleeps[1] <= 1.2


def test_retries_exhausted(server: FakeServer) -> None:
    server.routes["/down"] = lambda r: Reply(502, b"bad gateway")
    sleeps: list[float] = []
    with pytest.raises(FetchError, match="HTTP 502"):
        Fetcher(FetchOptions(retries=2), sleep=sleeps.append).get(server.url + "/down")
    assert server.hits("/down") == 3 and len(sleeps) == 2


def test_backoff_is_capped_and_jittered() -> None:
    f = Fetcher(FetchOptions(backoff=1.0, backoff_max=4.0, jitter=0.5), rng=random.Random(7))
    delays = [f.delay(a) for a in range(8)]
    assert all(0 <= d <= 6.0 for d in delays)
    assert delays[0] <= 1.5 and max(delays[5:]) <= 6.0
    assert len(set(delays)) > 1


def test_auth_and_custom_headers(server: FakeServer) -> None:
    seen: list[Request] = []

    def check(req: Request) -> Reply:
        seen.append(req)
        ok = req.headers.get("authorization") == "Bearer s3cret"
        return Reply(200 if ok else 401, b"ok" if ok else b"no token")

    server.routes["/auth"] = check
    opts = FetchOptions(bearer_token="s3cret", headers=(("X-Tenant", "blue"),))
    assert Fetcher(opts).get(server.url + "/auth").content == b"ok"
    assert seen[-1].headers["x-tenant"] == "blue"
    assert seen[-1].headers["user-agent"].startswith("leakhunter/")
    with pytest.raises(FetchError, match="HTTP 401"):
        Fetcher().get(server.url + "/auth")
    assert "s3cret" not in repr(opts) and "s3cret" not in str(opts.to_json())


def test_oversized_response_refused_or_truncated(server: FakeServer) -> None:
    server.routes["/big"] = lambda r: Reply(body=b"y" * 300_000)
    f = Fetcher(FetchOptions(max_bytes=100_000))
    with pytest.raises(FetchError, match="larger than the 100000-byte limit"):
        f.get(server.url + "/big")
    resp = f.get(server.url + "/big", max_bytes=50_000, truncate=True)
    assert resp.truncated and len(resp.content) == 50_000


def test_bad_ca_file(tmp_path: object) -> None:
    with pytest.raises(TargetError, match="cannot load CA file"):
        Fetcher(FetchOptions(ca_file="/nonexistent/ca.pem"))


def test_insecure_and_ca_options_build_clients() -> None:
    Fetcher(FetchOptions(insecure=True)).close()


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found: cannot make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_ca_file_and_insecure(tls_cert: tuple[Path, Path]) -> None:
    cert, key = tls_cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with FakeServer({"/p": lambda r: Reply(body=b"secure")}, tls=ctx) as srv:
        assert srv.url.startswith("https://")
        with pytest.raises(FetchError, match="TLS error") as info:
            Fetcher(FetchOptions(retries=0)).get(srv.url + "/p")
        assert "\n" not in str(info.value)
        assert Fetcher(FetchOptions(ca_file=str(cert))).get(srv.url + "/p").content == b"secure"
        assert Fetcher(FetchOptions(insecure=True)).get(srv.url + "/p").content == b"secure"
