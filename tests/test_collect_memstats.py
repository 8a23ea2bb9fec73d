from __future__ import annotations

import pytest

from leakhunter.errors import FormatError
from leakhunter.formats.memstats import MemStats, parse_memstats, split_heap_text

# Trimmed from a real Go 1.26 heap?gc=1&debug=1 answer (arrays shortened).
REAL = """heap profile: 6: 61440 [6: 61440] @ heap/1048576
6: 61440 [6: 61440] @ 0x487cac 0x48c2c9 0x68baa5 0x453b75 0x4917e1
#	0x68baa4	main.main+0x124		/tmp/probe/main.go:21


# runtime.MemStats
# Alloc = 2217920
# TotalAlloc = 2303808
# Sys = 12351752
# Lookups = 0
# Mallocs = 1035
# Frees = 131
# HeapAlloc = 2217920
# HeapSys = 7700480
# HeapIdle = 4956160
# HeapInuse = 2744320
# HeapReleased = 4710400
# HeapObjects = 904
# Stack = 688128 / 688128
# MSpan = 34080 / 48960
# MCache = 4592 / 16072
# BuckHashSys = 1443564
# GCSys = 1861872
# OtherSys = 592676
# NextGC = 4646266
# LastGC = 1795432270470269247
# PauseNs = [418041 0 0 0]
# PauseEnd = [1795432270470269247 0 0 0]
# NumGC = 1
# NumForcedGC = 1
# GCCPUFraction = 7.550497343383427e-05
# DebugGC = false
# MaxRSS = 9302016
"""


def test_parses_real_output() -> None:
    m = parse_memstats(REAL.encode())
    assert m.heap_alloc == 2217920
    assert m.heap_inuse == 2744320
    assert m.heap_objects == 904
    assert m.sys == 12351752
    assert m.num_gc == 1 and m.num_forced_gc == 1
    assert m.total_alloc == 2303808
    assert m.mallocs == 1035 and m.frees == 131
    assert m.fields["MaxRSS"] == 9302016
    assert m.fields["StackInuse"] == 688128 and m.fields["MSpanSys"] == 48960
    assert m.pause_ns == (418041, 0, 0, 0)
    assert m.gc_cpu_fraction == pytest.approx(7.55e-05, rel=1e-3)
    assert m.debug_gc is False
    assert all(isinstance(v, int) for v in m.fields.values())


def test_block_alone_and_split() -> None:
    profile, block = split_heap_text(REAL)
    assert block.startswith("# runtime.MemStats")
    assert profile.startswith("heap profile:")
    assert parse_memstats(block).heap_alloc == 2217920


def test_from_fields_round_trip() -> None:
    m = parse_memstats(REAL)
    again = MemStats.from_fields(dict(m.fields))
    assert again.heap_alloc == m.heap_alloc and again.num_forced_gc == m.num_forced_gc


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "no '# runtime.MemStats'"),
        (b"\x1f\x8b\x08\x00garbage", "not UTF-8"),
        (b"heap profile: 1: 1 [1: 1] @ heap/1\n", "no '# runtime.MemStats'"),
        (b"x\n# runtime.MemStats\n# HeapAlloc = lots\n", "not an integer"),
        (b"x\n# runtime.MemStats\n# HeapAlloc 12\n", "malformed"),
        (b"x\n# runtime.MemStats\n# Stack = 12\n", "inuse / sys"),
        (b"x\n# runtime.MemStats\n# PauseNs = [1 x]\n", "not an integer"),
        (b"x\n# runtime.MemStats\n# HeapAlloc = 12\n", "lacks"),
    ],
)
def test_garbage_is_format_error(data: bytes, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        parse_memstats(data, source="t")
