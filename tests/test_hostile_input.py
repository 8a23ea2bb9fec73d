"""Class 2 of issue 15: input that never ends, is not a file, or inflates without end."""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile_helpers import env, lh, one_line_error
from leakhunter.errors import FormatError
from leakhunter.formats import limits
from leakhunter.formats.limits import maybe_gunzip

CAP = str(4 << 20)


def _limit_memory() -> None:
    # Old code read endless input until the machine ran out: fail fast instead.
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def test_stdin_without_end_is_capped() -> None:
    with open("/dev/zero", "rb") as zero:
        proc = lh(
            "goroutines",
            "-",
            stdin=zero,
            extra_env={"LEAKHUNTER_MAX_INPUT_BYTES": CAP},
            timeout=60,
            preexec_fn=_limit_memory,
        )
    assert "limit" in one_line_error(proc)


def test_a_device_is_capped() -> None:
    proc = lh(
        "top",
        "/dev/zero",
        extra_env={"LEAKHUNTER_MAX_INPUT_BYTES": CAP},
        timeout=60,
        preexec_fn=_limit_memory,
    )
    assert "limit" in one_line_error(proc)


def test_a_fifo_that_never_ends_is_capped(tmp_path: Path) -> None:
    fifo = tmp_path / "profile"
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed() -> None:
        with open(fifo, "wb") as fh:  # blocks until leakhunter opens it
            try:
                while not stop.is_set():
                    fh.write(b"\0" * 65536)
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        proc = lh(
            "top",
            str(fifo),
            extra_env={"LEAKHUNTER_MAX_INPUT_BYTES": CAP},
            timeout=60,
            preexec_fn=_limit_memory,
        )
    finally:
        stop.set()
    writer.join(10)
    assert "limit" in one_line_error(proc)


class _CountingInflate:
    """The inflate module limits uses, counting the input bytes it is handed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.error = inner.error
        self.fed = 0

    def decompressobj(self, *args: Any, **kw: Any) -> Any:
        d = self.inner.decompressobj(*args, **kw)
        counter = self

        class Counted:
            def decompress(self, data: Any, max_length: int = 0) -> bytes:
                counter.fed += len(data)
                return d.decompress(data, max_length)  # type: ignore[no-any-return]

            def __getattr__(self, name: str) -> Any:
                return getattr(d, name)

        return Counted()


def _fed(monkeypatch: pytest.MonkeyPatch, members: int) -> int:
    """Input bytes handed to inflate to read `members` one-byte gzip members."""
    counting = _CountingInflate(limits._inflate)
    monkeypatch.setattr(limits, "_inflate", counting)
    member = gzip.compress(b"x", mtime=0)
    assert maybe_gunzip(member * members, "members") == b"x" * members
    monkeypatch.undo()
    return counting.fed


def test_many_tiny_gzip_members_take_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The work is counted, not timed: feeding each member the whole rest of the input
    # was quadratic (25 s for 6 MB). Twice the members must cost about twice the input.
    small, large = _fed(monkeypatch, 20_000), _fed(monkeypatch, 40_000)
    assert large <= 2.2 * small, (small, large)
    member = gzip.compress(b"x", mtime=0)
    data = member * (6_000_000 // len(member))  # 6 MB, as in the report
    assert maybe_gunzip(data, "members") == b"x" * (len(data) // len(member))


@pytest.mark.slow
@pytest.mark.parametrize("trailer", ["honest", "lying"])
def test_a_gzip_bomb_is_refused_near_the_cap_in_memory(tmp_path: Path, trailer: str) -> None:
    # At the default 1 GiB cap one cap-sized inflate call peaked at 1.6 GB of RSS
    # (its buffer grows geometrically); smaller caps do not show it.
    cap = 1 << 30
    bomb = tmp_path / "bomb.pb.gz"
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(bomb, "wb") as fh:
        block = b"\0" * (16 << 20)
        for _ in range(80):  # 1.25 GiB inflated, ~1.3 MB on disk
            fh.write(z.compress(block))
        fh.write(z.flush())
    if trailer == "lying":  # ISIZE claims a small member
        with open(bomb, "r+b") as fh:
            fh.seek(-4, os.SEEK_END)
            fh.write((100 << 20).to_bytes(4, "little"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakhunter", "top", str(bomb)],
        env=env(),  # the default cap
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the largest so far
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 2 and "more than" in stderr, stderr
    peak = usage.ru_maxrss * 1024  # KiB
    assert peak < cap + (200 << 20), f"peak RSS {peak >> 20} MiB for a {cap >> 20} MiB cap"


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.lists(st.binary(max_size=300), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=4000),
    st.sampled_from(["whole", "cut", "junk"]),
)
def test_gunzip_matches_gzip_or_refuses(parts: list[bytes], cap: int, how: str) -> None:
    data = b"".join(gzip.compress(p, mtime=0) for p in parts)
    whole = b"".join(parts)
    if how == "cut":
        data = data[: max(2, len(data) - 3)]
    elif how == "junk":
        data += b"trailing junk"
    try:
        out = maybe_gunzip(data, "x", cap)
    except FormatError:
        assert how == "cut" or len(whole) > cap
        return
    assert len(out) <= cap
    assert out == whole


def test_gunzip_refuses_a_bomb_at_any_cap() -> None:
    bomb = gzip.compress(b"\0" * (8 << 20))
    for cap in (1, 1000, 1 << 20, (8 << 20) - 1):
        with pytest.raises(FormatError, match="more than"):
            maybe_gunzip(bomb, "bomb", cap)


@pytest.mark.parametrize("flag", ["--allowlist", "--baseline"])
def test_gate_files_from_a_device_are_capped(flag: str) -> None:
    proc = lh(
        "check",
        "--url",
        "http://127.0.0.1:9",
        flag,
        "/dev/zero",
        timeout=60,
        preexec_fn=_limit_memory,
    )
    assert "more than" in one_line_error(proc)
