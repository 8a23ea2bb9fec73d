"""Classes 7, 8 and the target half of 11 of issue 15: deadlines, secrets, garbage answers."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile_helpers import env, lh, one_line_error
from leakhunter.collect.fetch import Fetcher, FetchError, FetchOptions
from leakhunter.harness.fake import FakeGoTarget, FakeServer, Reply


@contextlib.contextmanager
def _silent_socket() -> Iterator[socket.socket]:
    """A listening socket that never answers (connections queue up unaccepted)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    try:
        yield sock
    finally:
        sock.close()


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def silent() -> Iterator[str]:
    """A target that accepts connections and never answers."""
    with _silent_socket() as sock:
        yield _url(sock)


@pytest.fixture
def refusing() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("kind", ["silent", "refusing"])
def test_the_window_bounds_the_wall_time(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # No stopwatch: an hour-long timeout and 100 retries would outlast the generous
    # 120 s the run is given (TimeoutExpired) unless the 2 s window cuts them short.
    url = request.getfixturevalue(kind)
    proc = lh(
        "watch",
        url,
        "--duration",
        "2s",
        "--interval",
        "1s",
        "--timeout",
        "1h",
        "--retries",
        "100",
        "--out",
        str(tmp_path / "s"),
        timeout=120,
    )
    one_line_error(proc)


def test_ctrl_c_does_not_wait_for_the_request_in_flight(tmp_path: Path) -> None:
    with _silent_socket() as sock:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leakhunter", "watch", _url(sock), "--timeout", "1h"]
            + ["--out", str(tmp_path / "s")],
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()  # the first line says the watch began
            assert line.startswith("watching"), line
            sock.settimeout(120)
            conn, _ = sock.accept()  # the first request is in flight now (never answered)
            with conn:
                proc.send_signal(signal.SIGINT)
                # waiting for the request would take its hour-long timeout, not 120 s
                proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert proc.returncode == 2


@pytest.fixture
def elsewhere() -> Iterator[FakeServer]:
    with FakeServer({"/landing": lambda r: Reply(body=b"landed")}) as server:
        yield server


def _redirecting(to: str) -> FakeServer:
    return FakeServer(
        {
            "/away": lambda r: Reply(302, headers=(("Location", to + "/landing"),)),
            "/here": lambda r: Reply(302, headers=(("Location", "/landing"),)),
            "/landing": lambda r: Reply(body=b"home"),
        }
    )


SECRETS = FetchOptions(
    retries=0, headers=(("X-Api-Key", "s3cret-key"),), bearer_token="s3cret-token"
)


def test_no_redirect_to_another_host_unless_allowed(elsewhere: FakeServer) -> None:
    with _redirecting(elsewhere.url) as origin, Fetcher(SECRETS) as fetcher:
        with pytest.raises(FetchError, match="another host"):
            fetcher.get(origin.url + "/away")
        assert fetcher.get(origin.url + "/here").content == b"home"  # same host: followed
        assert origin.requests[-1].headers["x-api-key"] == "s3cret-key"
    assert elsewhere.requests == []


def test_an_allowed_redirect_carries_no_secret(elsewhere: FakeServer) -> None:
    options = FetchOptions(
        retries=0,
        headers=SECRETS.headers,
        bearer_token="s3cret-token",
        basic_auth=("alice", "s3cret-pass"),
        redirect_hosts=("127.0.0.1",),
    )
    with _redirecting(elsewhere.url) as origin, Fetcher(options) as fetcher:
        assert fetcher.get(origin.url + "/away").content == b"landed"
        assert "authorization" in origin.requests[-1].headers
    (req,) = elsewhere.requests
    assert "x-api-key" not in req.headers and "authorization" not in req.headers


@settings(max_examples=25, deadline=None, database=None)
@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=6, max_size=24),
    st.booleans(),
)
def test_custom_headers_never_reach_another_host(name: str, value: str, allowed: bool) -> None:
    with FakeServer({"/landing": lambda r: Reply(body=b"x")}) as other:
        options = FetchOptions(
            retries=0,
            headers=((f"x-{name}", value),),
            redirect_hosts=("127.0.0.1",) if allowed else (),
        )
        with _redirecting(other.url) as origin, Fetcher(options) as fetcher:
            try:
                fetcher.get(origin.url + "/away")
            except FetchError:
                assert not allowed
        assert all(value not in json.dumps(dict(r.headers)) for r in other.requests)


def test_url_credentials_are_sent_but_never_stored_or_printed(tmp_path: Path) -> None:
    with FakeGoTarget() as target:
        url = target.url.replace("http://", "http://alice:s3cret-pass@")
        proc = lh(
            "watch",
            url,
            "--snapshots",
            "2",
            "--interval",
            "200ms",
            "--out",
            str(tmp_path / "s"),
            "--html",
            str(tmp_path / "r.html"),
            "--json",
            str(tmp_path / "r.json"),
            timeout=120,
        )
        sent = [r.headers.get("authorization", "") for r in target.requests]
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert all(h.startswith("Basic ") for h in sent)
    assert "s3cret-pass" not in proc.stdout + proc.stderr
    for path in [tmp_path / "r.html", tmp_path / "r.json", *(tmp_path / "s").iterdir()]:
        assert b"s3cret-pass" not in path.read_bytes(), path


def test_a_target_answering_200_with_garbage_is_a_target_error(tmp_path: Path) -> None:
    page = Reply(body=b"<html><body>Please log in</body></html>")
    paths = ["/debug/pprof/heap", "/debug/pprof/goroutine", "/debug/pprof/goroutineleak"]
    paths += ["/debug/pprof/allocs", "/debug/vars", "/debug/pprof/"]
    with FakeServer(dict.fromkeys(paths, lambda r: page)) as target:
        proc = lh(
            "watch",
            target.url,
            "--snapshots",
            "3",
            "--interval",
            "200ms",
            "--out",
            str(tmp_path / "s"),
            timeout=120,
        )
    one_line_error(proc)


@settings(max_examples=10, deadline=None, database=None)
@given(
    retries=st.integers(0, 100),
    timeout=st.floats(0.05, 30.0),
    window=st.floats(0.05, 0.6),
)
def test_a_deadline_bounds_every_get(retries: int, timeout: float, window: float) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # accepts, never answers
    try:
        options = FetchOptions(timeout=timeout, retries=retries, backoff=0.01)
        budgets: list[float] = []

        class Watched(Fetcher):
            def _get_once(  # type: ignore[no-untyped-def]
                self, url, max_bytes, truncate, timeout
            ):
                budgets.append(timeout)
                assert timeout <= window, budgets  # fail at once, not after the full timeout
                return super()._get_once(url, max_bytes, truncate, timeout)

        # No stopwatch: every attempt's own timeout must be cut to what the window left
        # (there may be none: a tiny window can end before the first attempt starts).
        started = time.monotonic()
        with Watched(options, deadline=started + window) as fetcher, pytest.raises(FetchError):
            fetcher.get(f"http://127.0.0.1:{sock.getsockname()[1]}/debug/pprof/heap")
        assert all(0 < b <= min(timeout, window) for b in budgets), budgets
    finally:
        sock.close()


def test_goroutines_from_a_url_never_shows_its_password() -> None:
    dump = b"goroutine 1 [chan receive]:\nmain.main()\n\t/src/main.go:10 +0x1d\n"
    with FakeServer({"/debug/pprof/goroutine": lambda r: Reply(body=dump)}) as target:
        url = target.url.replace("http://", "http://alice:s3cret-pass@")
        proc = lh("goroutines", url, timeout=60)
        sent = target.requests[-1].headers.get("authorization", "")
    assert proc.returncode == 0, proc.stderr
    assert sent.startswith("Basic ")
    assert "s3cret-pass" not in proc.stdout + proc.stderr
