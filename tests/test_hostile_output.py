"""Classes 4 and 5 of issue 15: output paths are written, not replaced; stdout errors exit 2."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_helpers import HEAP, SESSION, lh, one_line_error
from leakhunter.report.output_file import write_output


def _read_fifo(fifo: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(fifo, "rb") as fh:
            into.append(fh.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


def test_a_report_into_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    proc = lh("analyze", str(SESSION), "--json", str(fifo), "-q", timeout=120)
    reader.join(30)
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still the FIFO, not a file put in its place
    assert json.loads(got[0])["schema"] == "leakhunter.verdict/1"


def test_a_report_through_a_symlink_replaces_its_target_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    (tmp_path / "artifacts").mkdir()
    target = tmp_path / "artifacts" / "verdict.json"
    target.write_text("old")
    link = tmp_path / "verdict.json"
    link.symlink_to(target)
    proc = lh("analyze", str(SESSION), "--json", str(link), "-q", timeout=120)
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert link.is_symlink()
    assert json.loads(target.read_text())["schema"] == "leakhunter.verdict/1"


def test_a_report_into_a_file_descriptor_path_is_written_through(tmp_path: Path) -> None:
    # /dev/stdout and /proc/self/fd/N name descriptors: renaming over them must
    # never happen (as root it replaced /dev/full); writing through them works.
    read, write = os.pipe()
    try:
        proc = lh(
            "analyze",
            str(SESSION),
            "--json",
            f"/proc/self/fd/{write}",
            "-q",
            pass_fds=(write,),
            timeout=120,
        )
        os.close(write)
        write = -1
        with os.fdopen(read, "rb") as fh:
            read = -1
            data = fh.read()
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert json.loads(data)["schema"] == "leakhunter.verdict/1"


def test_a_report_onto_a_directory_is_one_line(tmp_path: Path) -> None:
    proc = lh("analyze", str(SESSION), "--json", str(tmp_path), "-q", timeout=120)
    assert "directory" in one_line_error(proc)


@pytest.mark.parametrize("command", ["top", "analyze"])
def test_a_full_disk_on_stdout_is_one_line_and_exit_2(command: str) -> None:
    source = str(HEAP if command == "top" else SESSION)
    with open("/dev/full", "w") as full:
        proc = lh(command, source, stdout=full, stderr=-1, capture_output=False, timeout=120)
    assert "standard output" in one_line_error(proc)


def test_a_closed_pipe_on_stdout_is_exit_2_not_a_verdict() -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        proc = lh(
            "analyze", str(SESSION), stdout=write, stderr=-1, capture_output=False, timeout=120
        )
    finally:
        os.close(write)
    assert "standard output" in one_line_error(proc)


_KINDS = st.sampled_from(["new", "file", "link", "dangling", "link-to-link"])


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(kind=_KINDS, data=st.binary(max_size=2000))
def test_write_output_writes_the_named_file_and_keeps_every_link(
    tmp_path: Path, kind: str, data: bytes
) -> None:
    root = tmp_path / os.urandom(6).hex()
    root.mkdir()
    real = root / "real.out"
    path = root / "named.out"
    if kind == "new":
        path = real
    elif kind == "file":
        real.write_bytes(b"previous")
        path = real
    elif kind == "link":
        real.write_bytes(b"previous")
        path.symlink_to(real)
    elif kind == "dangling":
        path.symlink_to(real)
    else:
        real.write_bytes(b"previous")
        (root / "middle").symlink_to(real)
        path.symlink_to(root / "middle")
    write_output(path, data)
    assert real.read_bytes() == data
    assert path.read_bytes() == data
    if kind != "new" and kind != "file":
        assert path.is_symlink()
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []  # no temp left


class _FailingStdout(io.TextIOWrapper):
    """A stdout whose every write fails the way a full disk or a closed pipe does."""

    def __init__(self, err: int) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8")
        self.err = err

    def write(self, s: str) -> int:
        raise OSError(self.err, os.strerror(self.err))

    def flush(self) -> None:
        raise OSError(self.err, os.strerror(self.err))


@settings(max_examples=12, deadline=None, database=None)
@given(
    err=st.sampled_from([errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EDQUOT, errno.EFBIG]),
    argv=st.sampled_from([("top", str(HEAP)), ("analyze", str(SESSION), "-q")]),
)
def test_any_stdout_write_error_is_exit_2(err: int, argv: tuple[str, ...]) -> None:
    from leakhunter.cli.main import _run

    out, saved_err = _FailingStdout(err), io.StringIO()
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, saved_err
    try:
        code = _run(list(argv))
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    assert code == 2
    assert saved_err.getvalue().count("\n") == 1
    assert "standard output" in saved_err.getvalue()
