"""Fields every goroutine format shares: Go-quoted pprof labels and states inferred from stacks.

The counted formats (debug=1 text, the debug=0 protobuf) carry no wait state,
so :func:`infer_state` names it from the stack's leaf frames, the way the
runtime would have printed it. debug=1 hides the runtime's own leaf frames
(``runtime.gopark``, ``runtime.chanrecv1``...), so channel and select waits can
only be named from the protobuf; sync, IO, sleep and syscall waits show through
their standard-library frames in both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from leakhunter.model.goroutine import Frame

__all__ = ["infer_state", "parse_labels", "unquote_go"]

# Leaf-most frame names that settle the wait state on their own.
_STATE_OF: dict[str, str] = {
    "runtime.chanrecv": "chan receive",
    "runtime.chanrecv1": "chan receive",
    "runtime.chanrecv2": "chan receive",
    "runtime.chansend": "chan send",
    "runtime.chansend1": "chan send",
    "runtime.selectgo": "select",
    "runtime.block": "select (no cases)",
    "sync.runtime_SemacquireMutex": "sync.Mutex.Lock",
    "internal/sync.runtime_SemacquireMutex": "sync.Mutex.Lock",
    "sync.(*Mutex).Lock": "sync.Mutex.Lock",
    "internal/sync.(*Mutex).Lock": "sync.Mutex.Lock",
    "internal/sync.(*Mutex).lockSlow": "sync.Mutex.Lock",
    "sync.(*Mutex).lockSlow": "sync.Mutex.Lock",
    "sync.runtime_SemacquireRWMutexR": "sync.RWMutex.RLock",
    "sync.(*RWMutex).RLock": "sync.RWMutex.RLock",
    "sync.runtime_SemacquireRWMutex": "sync.RWMutex.Lock",
    "sync.(*RWMutex).Lock": "sync.RWMutex.Lock",
    "sync.runtime_SemacquireWaitGroup": "sync.WaitGroup.Wait",
    "sync.(*WaitGroup).Wait": "sync.WaitGroup.Wait",
    "sync.runtime_notifyListWait": "sync.Cond.Wait",
    "sync.(*Cond).Wait": "sync.Cond.Wait",
    "internal/poll.runtime_pollWait": "IO wait",
    "internal/poll.(*pollDesc).wait": "IO wait",
    "runtime.netpollblock": "IO wait",
    "time.Sleep": "sleep",
    "runtime.timeSleep": "sleep",
    "runtime.notetsleepg": "syscall",
    "runtime.entersyscall": "syscall",
    "runtime.entersyscallblock": "syscall",
    "syscall.Syscall": "syscall",
    "syscall.Syscall6": "syscall",
    "syscall.RawSyscall": "syscall",
    "syscall.RawSyscall6": "syscall",
    "syscall.syscall": "syscall",
    "syscall.syscall6": "syscall",
    "internal/runtime/syscall.Syscall6": "syscall",
    "runtime/internal/syscall.Syscall6": "syscall",
    "os/signal.signal_recv": "syscall",
    "runtime.goroutineProfileWithLabels": "running",
    "runtime.goroutineProfileWithLabelsConcurrent": "running",
    "runtime.gcBgMarkWorker": "GC worker (idle)",
    "runtime.bgsweep": "GC sweep wait",
    "runtime.bgscavenge": "GC scavenge wait",
    "runtime.forcegchelper": "force gc (idle)",
    "runtime.runfinq": "finalizer wait",
    "runtime.runCleanups": "cleanup wait",
    "runtime.updateMaxProcsGoroutine": "GOMAXPROCS updater (idle)",
}

# Generic semaphore waits: named only when no more specific frame follows.
_WEAK: dict[str, str] = {
    "sync.runtime_Semacquire": "semacquire",
    "internal/sync.runtime_Semacquire": "semacquire",
    "runtime.semacquire1": "semacquire",
    "runtime.semacquire": "semacquire",
}

# Frames that may sit between the parked leaf and the frame naming the wait.
_PLUMBING = ("runtime.", "internal/", "sync.", "time.", "syscall.", "os/signal.")

#: How many leaf frames inference looks at; waits are decided close to the leaf.
_MAX_DEPTH = 12


def infer_state(frames: Sequence[Frame]) -> str | None:
    """Name the wait state of a stack (leaf first) from its leaf frames, or None.

    The scan stops at the first application frame: a stack whose leaf is user
    code (a running goroutine, or debug=1 output hiding a channel wait) gets None.
    """
    weak: str | None = None
    for frame in frames[:_MAX_DEPTH]:
        name = frame.function
        state = _STATE_OF.get(name)
        if state is not None:
            return state
        if weak is None:
            weak = _WEAK.get(name)
        if not name.startswith(_PLUMBING):
            break
    return weak


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def _unescape(m: re.Match[str]) -> str:
    esc = m.group(1)
    if len(esc) == 1:
        return _SIMPLE.get(esc, esc)
    code = int(esc[1:], 16) if esc[0] in "xuU" else int(esc, 8)
    # Surrogates and out-of-range code points cannot be printed or encoded.
    return chr(code) if code < 0x110000 and not 0xD800 <= code < 0xE000 else "\ufffd"


def unquote_go(body: str) -> str:
    """Return the value of a Go-quoted string's body (without its quotes)."""
    return _ESCAPE.sub(_unescape, body) if "\\" in body else body


# A quoted Go string: quotes, then anything but a quote or backslash, or an escape.
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_PAIR = re.compile(_QUOTED + r"\s*:\s*" + _QUOTED)


def parse_labels(text: str) -> tuple[tuple[str, str], ...]:
    """Parse pprof labels printed as ``{"k":"v", "k2":"v2"}`` (debug=1) or with spaces.

    Returns the pairs sorted by key, as Go prints them. Garbage yields no pairs
    rather than an error: labels are decoration, never a reason to reject a dump.
    """
    pairs = [(unquote_go(k), unquote_go(v)) for k, v in _PAIR.findall(text)]
    return tuple(sorted(pairs))
