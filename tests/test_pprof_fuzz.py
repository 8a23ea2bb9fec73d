"""Bounded-time fuzzing of the pprof reader, suitable for CI.

Real Go profiles (tests/data/pprof) are mutated with a fixed seed (bit flips,
byte runs, truncations, splices of two profiles, insertions, deletions),
gzipped or raw. Decoding must either succeed or raise FormatError; what does
decode must survive top on every sample index and a re-encode. Longer runs:
LEAKHUNTER_FUZZ_ITERATIONS=100000 LEAKHUNTER_FUZZ_SECONDS=600 pytest tests/test_pprof_fuzz.py
"""

from __future__ import annotations

import gzip
import os
import random
import time

import pytest

from leakhunter.errors import FormatError
from leakhunter.formats import pprof
from leakhunter.ops.aggregate import Granularity, top
from pprof_helpers import DATA

ITERATIONS = int(os.environ.get("LEAKHUNTER_FUZZ_ITERATIONS", "1500"))
SECONDS = float(os.environ.get("LEAKHUNTER_FUZZ_SECONDS", "6"))
SEEDS = [gzip.decompress((DATA / name).read_bytes()) for name in ("heap.pb.gz", "goroutine.pb.gz")]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(7)
        at = rng.randrange(len(buf)) if buf else 0
        if kind == 0 and buf:  # bit flip
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and buf:  # interesting byte
            buf[at] = rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFF, 0x08, 0x0A, 0x12, 0x1A])
        elif kind == 2:  # truncate
            del buf[at:]
        elif kind == 3:  # splice from another profile
            other = rng.choice(SEEDS)
            start = rng.randrange(len(other))
            buf[at:at] = other[start : start + rng.randint(1, 64)]
        elif kind == 4:  # delete a run
            del buf[at : at + rng.randint(1, 16)]
        elif kind == 5:  # duplicate a run
            buf[at:at] = buf[at : at + rng.randint(1, 32)]
        else:  # overwrite with a large varint
            buf[at : at + 10] = b"\xff" * 9 + b"\x01"
    return bytes(buf)


def exercise(data: bytes) -> bool:
    try:
        p = pprof.decode(data, max_bytes=1 << 22)
    except FormatError:
        return False
    for i in range(len(p.sample_types)):
        for gran in (Granularity.FUNCTION, Granularity.LINE):
            top(p, i, gran)
    assert pprof.decode(pprof.encode(p)) == p
    return True


@pytest.mark.parametrize("gzipped", [False, True])
def test_mutated_profiles_decode_or_fail_cleanly(gzipped, sample_walk):
    rng = random.Random(20261123 + gzipped)
    deadline = time.monotonic() + SECONDS / 2
    decoded = tried = 0
    for _ in range(ITERATIONS):
        data = mutate(rng, rng.choice(SEEDS))
        if gzipped:
            data = gzip.compress(data, compresslevel=1, mtime=0)
            if rng.random() < 0.3:  # damage the gzip layer too
                data = mutate(rng, data)
        decoded += exercise(data)
        tried += 1
        if time.monotonic() > deadline:
            break
    assert tried >= min(ITERATIONS, 200)
    assert 0 < decoded < tried  # both outcomes happen: the mutations are neither too weak nor fatal
