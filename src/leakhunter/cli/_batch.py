"""Process settings for the one-shot file commands (top, diff, goroutines, analyze, report).

Those commands decode a profile into a few dozen large numpy temporaries and
exit. Profiling `leakhunter top` on a 262k-stack heap profile showed a fifth of
its time in the kernel and in page faults: glibc serves every array over
128 KiB with a fresh mmap and unmaps it when freed, so the next array faults
its pages in (and zeroes them) again. Raising the mmap and trim thresholds
keeps freed memory in the heap for reuse; that is right for a process that
ends in a second, wrong for a long-lived one (`watch`, the in-process agent),
which is why only batch commands call this.

Even so every page the decoder touches first costs a fault: about 22k of them
for that profile, some 60-80 ms on a VM. Where transparent huge pages are
offered on request (the usual "madvise" setting), the heap is grown by
_HUGE_REGION once and marked MADV_HUGEPAGE, so the arrays carved from it later
fault in 2 MiB at a time (3.5k faults; `top` 25% faster, bench_top.py).
Nothing is touched up front: only the pages used are ever backed.

OpenBLAS starts one thread per core when numpy is imported; leakhunter never
multiplies matrices, so one thread is enough (set only if the user has not).

Tearing the interpreter down (collecting every module, freeing the decoded
profile piece by piece) took 30-40 ms of a 0.5 s `top`; a batch command has
closed its files and only needs its output flushed, so it leaves at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, NoReturn

__all__ = ["BATCH_COMMANDS", "exit_now", "tune_for_batch"]

#: Commands that read files, print and exit.
BATCH_COMMANDS = frozenset({"top", "diff", "goroutines", "analyze", "report"})

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_KEEP = 1 << 30  # serve and keep up to 1 GiB from the heap
_PAD = 64 << 20  # grow the heap 64 MiB at a time
_HUGE_REGION = 256 << 20  # heap address space marked for huge pages
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14


def tune_for_batch() -> None:
    """Tune the allocator and BLAS threads; must run before numpy is imported."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt  # glibc; musl has no mallopt
    except (OSError, AttributeError):
        return
    for option, value in (
        (_M_MMAP_THRESHOLD, _KEEP),
        (_M_TRIM_THRESHOLD, _KEEP),
        (_M_TOP_PAD, _PAD),
    ):
        mallopt(option, value)
    _huge_heap(libc)


def _huge_heap(libc: Any) -> None:
    """Grow the heap by _HUGE_REGION, mark it for huge pages, and give it back to malloc.

    With the thresholds above the block comes from the heap (not its own
    mmap) and stays there once freed, so later allocations reuse its
    address range. Where huge pages are off, madvise fails and nothing changes.
    """
    import ctypes

    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    block = libc.malloc(_HUGE_REGION)
    if not block:
        return
    start = -(-block // _HUGE_PAGE) * _HUGE_PAGE  # first whole huge page inside
    libc.madvise(start, (block + _HUGE_REGION - start) // _HUGE_PAGE * _HUGE_PAGE, _MADV_HUGEPAGE)
    libc.free(block)


def exit_now(code: int) -> NoReturn:
    """Flush standard output and error, then end the process without teardown."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`) or stream
            stream.flush()
    os._exit(code)
