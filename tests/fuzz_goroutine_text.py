"""Bounded-time mutation fuzzer for the goroutine dump readers.

Mutates the real fixtures in tests/data/goroutines (byte flips, cuts, splices,
dump tokens, gzip wrapping) and feeds them to load_dump and both renderers. A
dump or a FormatError is fine; anything else is a bug: the input is saved and
the exception re-raised with the seed and iteration to replay it.

    python tests/fuzz_goroutine_text.py --seconds 60 --seed 7

test_goroutine_props.py runs it for a couple of seconds with a fixed seed.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import tempfile
import time
from pathlib import Path

from leakhunter.analyze.goroutine_suspects import rank_groups
from leakhunter.errors import FormatError
from leakhunter.formats.goroutine_text import load_dump
from leakhunter.report.goroutines import render_goroutines_json, render_goroutines_text

DATA = Path(__file__).resolve().parent / "data" / "goroutines"

TOKENS = (
    b"goroutine ",
    b"goroutine 1 [running]:\n",
    b"goroutine 7 gp=0xc000007a40 m=nil [chan receive, 3 minutes]:\n",
    b"[",
    b"]:",
    b"]:\n",
    b"\n\n",
    b"\n\ngoroutine ",
    b"\n",
    b"\t",
    b"created by ",
    b" in goroutine ",
    b"(...)",
    b"(0xc000012000, {0x1, 0x2})",
    b"+0x",
    b" fp=0x1 sp=0x2 pc=0x3",
    b" minutes",
    b", locked to thread",
    b" (leaked)",
    b' labels:{"k": "v\\x1b\\u03a3"}',
    b"...additional frames elided...\n",
    b"...12 frames elided...\n",
    b"\n[originating from goroutine 3]:\n",
    b"# labels: {",
    b"#\t0x4a5b6c\t",
    b"goroutine profile: total ",
    b"99999999999999999999999",
    b":",
    b'"',
    b"\\",
    b"\r\n",
    b"\x00",
    b"\xff\xfe",
)


def _fixtures() -> list[bytes]:
    out = []
    for path in sorted(DATA.iterdir()):
        if path.is_file() and path.suffix in (".txt", ".gz"):
            data = path.read_bytes()
            out.append(gzip.decompress(data) if path.suffix == ".gz" else data)
    return out


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """Apply one to four random edits to data."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        at = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            del buf[at : at + rng.randint(1, 200)]
        elif op == 2:
            buf[at:at] = rng.choice(TOKENS)
        elif op == 3:
            del buf[at:]
        elif op == 4:
            other = rng.choice(corpus)
            start = rng.randint(0, len(other))
            buf[at:at] = other[start : start + rng.randint(1, 2000)]
        elif op == 5:
            piece = bytes(buf[at : at + rng.randint(1, 300)])
            buf[at:at] = piece * rng.randint(1, 5)
        else:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    out = bytes(buf)
    if rng.random() < 0.05:
        out = gzip.compress(out, mtime=0)
        if rng.random() < 0.5:
            out = out[: rng.randint(0, len(out))]
    return out


def check(data: bytes) -> None:
    """Parse and render one input; only FormatError may escape."""
    try:
        dump = load_dump(data, "fuzz")
    except FormatError as exc:
        assert "\n" not in str(exc), "FormatError messages are one line"
        return
    assert dump.total == sum(g.count for g in dump.groups)
    assert all(g.count > 0 for g in dump.groups)
    ranked = rank_groups(dump)
    render_goroutines_json(dump, ranked)
    render_goroutines_text(dump, ranked, None, "fuzz")


def fuzz(seconds: float, seed: int, max_iterations: int | None = None) -> int:
    """Run until the time or iteration budget is spent; return the iterations run."""
    rng = random.Random(seed)
    corpus = _fixtures()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline and (max_iterations is None or n < max_iterations):
        data = mutate(rng, rng.choice(corpus), corpus)
        try:
            check(data)
        except Exception:
            saved = Path(tempfile.gettempdir()) / f"goroutine-fuzz-{seed}-{n}.bin"
            saved.write_bytes(data)
            print(f"failure at seed={seed} iteration={n}; input saved to {saved}", file=sys.stderr)
            raise
        n += 1
    return n


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    opts = parser.parse_args()
    count = fuzz(opts.seconds, opts.seed)
    print(f"{count} inputs, seed {opts.seed}: no crash")
