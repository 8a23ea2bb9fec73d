"""Class 1 of issue 15: numbers far beyond int64/float64, NaN and infinities, from anywhere."""

from __future__ import annotations

import argparse
import json
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile_helpers import HEAP, lh, one_line_error
from leakhunter.cli.parse import count, duration, fraction, size
from leakhunter.errors import FormatError
from leakhunter.formats.memstats import parse_memstats
from leakhunter.harness.fake import FakeGoTarget, Reply, Request
from leakhunter.safe_numbers import MAX_INT64, MAX_SECONDS

HUGE = "9" * 30

MEMSTATS = (
    "heap profile: 1: 1 [1: 1] @ heap/1048576\n\n# runtime.MemStats\n"
    "# Alloc = 1\n# TotalAlloc = {total}\n# Sys = 1\n# HeapAlloc = {heap}\n"
    "# HeapInuse = 1\n# HeapObjects = 1\n# NumGC = 1\n# GCCPUFraction = {frac}\n"
)


@pytest.mark.parametrize(
    ("heap", "frac"), [(HUGE, "0.1"), (str(1 << 63), "0.1"), ("-1", "0.1"), ("1", "nan")]
)
def test_memstats_refuses_figures_beyond_int64_and_nan(heap: str, frac: str) -> None:
    with pytest.raises(FormatError):
        parse_memstats(MEMSTATS.format(heap=heap, total=1, frac=frac))


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (("watch", "http://127.0.0.1:9", "--interval", "99999999999999999999d"), "--interval"),
        (("watch", "http://127.0.0.1:9", "--limit", "1e999GiB"), "--limit"),
        (("watch", "http://127.0.0.1:9", "--retries", "99999999"), "--retries"),
        (("watch", "http://127.0.0.1:9", "--duration", "1" + "0" * 400), "--duration"),
        (("top", str(HEAP), "--node-fraction", "nan"), "--node-fraction"),
        (("top", str(HEAP), "-n", HUGE), "-n"),
        (("goroutines", "127.0.0.1:9", "--timeout", "inf"), "--timeout"),
    ],
)
def test_out_of_range_options_are_usage_errors(argv: tuple[str, ...], flag: str) -> None:
    proc = lh(*argv, timeout=30)
    assert f"argument {flag}" in one_line_error(proc)


@pytest.mark.parametrize("value", ["-5", "-1", "0", "abc", HUGE])
def test_max_input_bytes_must_be_a_positive_integer(value: str) -> None:
    proc = lh("top", str(HEAP), extra_env={"LEAKHUNTER_MAX_INPUT_BYTES": value}, timeout=30)
    assert "LEAKHUNTER_MAX_INPUT_BYTES is" in one_line_error(proc)  # said so, not ignored


class _HugeAfterFirst(FakeGoTarget):
    """A target whose MemStats carry a figure beyond int64 from the second snapshot on."""

    def __init__(self) -> None:
        super().__init__()
        self.served = 0
        self.lock = threading.Lock()

    def _heap(self, req: Request) -> Reply:
        reply = super()._heap(req)
        if "debug=1" not in req.query:
            return reply
        with self.lock:
            self.served += 1
            if self.served < 2:
                return reply
        body = reply.body.replace(b"# HeapAlloc = ", b"# HeapAlloc = " + HUGE.encode())
        return Reply(body=body)


def test_watch_keeps_collecting_after_a_figure_beyond_int64(tmp_path) -> None:
    with _HugeAfterFirst() as target:
        proc = lh(
            "watch",
            target.url,
            "--snapshots",
            "4",
            "--interval",
            "200ms",
            "--out",
            str(tmp_path / "s"),
            "--no-color",
            timeout=60,
        )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in (0, 1, 3), proc.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "s").glob("0*.json"))]
    assert len(records) == 4  # the collection went on after the bad figure
    # ...and the figure was refused where it was read, with the reason recorded
    assert all(0 <= v <= MAX_INT64 for r in records for v in r["memstats"].values())
    assert sum("HeapAlloc" in r["errors"].get("memstats", "") for r in records) == 3


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(alphabet="0123456789.e+-kmgtibKMGTIBsdhnNaIf ", max_size=40))
def test_option_parsers_return_bounded_values_or_refuse(text: str) -> None:
    for parse, hi in ((duration, MAX_SECONDS), (size, MAX_INT64), (fraction, 1.0)):
        try:
            value = parse(text)
        except argparse.ArgumentTypeError:
            continue
        assert math.isfinite(value) and 0 <= value <= hi
    try:
        n = count(0, 100)(text)
    except argparse.ArgumentTypeError:
        return
    assert 0 <= n <= 100


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.integers(min_value=-(1 << 80), max_value=1 << 80), st.sampled_from(["HeapAlloc", "NumGC"])
)
def test_memstats_figures_are_within_int64_or_refused(value: int, field: str) -> None:
    text = MEMSTATS.format(heap=1, total=1, frac="0.1").replace(
        f"# {field} = 1", f"# {field} = {value}"
    )
    try:
        stats = parse_memstats(text)
    except FormatError:
        assert not 0 <= value <= MAX_INT64
        return
    assert all(0 <= v <= MAX_INT64 for v in stats.fields.values())


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=30))
def test_the_input_cap_from_the_environment_is_positive_or_refused(raw: str) -> None:
    import os
    from unittest import mock

    from leakhunter.errors import UsageError
    from leakhunter.formats.limits import DEFAULT_MAX_BYTES, max_bytes_from_env

    if "\0" in raw:
        return  # not representable in an environment
    with mock.patch.dict(os.environ, {"LEAKHUNTER_MAX_INPUT_BYTES": raw}):
        try:
            cap = max_bytes_from_env()
        except UsageError:
            return
    assert 1 <= cap <= MAX_INT64
    assert cap == DEFAULT_MAX_BYTES or cap == int(raw)
