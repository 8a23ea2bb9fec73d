"""Whose code is a frame? Application vs standard library vs third-party, and the culprit.

The culprit of a finding is the innermost frame of the application's own code:
the line a human would change. Go frames are classified by file path (GOROOT,
module cache, vendor) and package path (no dot in the first element means the
standard library), which works for -trimpath builds too. ``--app-prefix``
overrides the guess with an explicit function-name prefix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from leakhunter.model.goroutine import Frame

__all__ = [
    "AppMatcher",
    "Origin",
    "chain_keys",
    "culprit",
    "module_of",
    "package_of",
    "runs_anything",
]


class Origin(StrEnum):
    """Where a frame's code comes from."""

    APP = "app"
    STDLIB = "stdlib"
    THIRD_PARTY = "third-party"
    RUNTIME = "runtime"
    GENERATED = "generated"


# Generated code (protoc, grpc, thrift, gqlgen, mocks...) is nobody's line to fix.
_GENERATED = re.compile(
    r"(\.pb\.go|\.pb\.gw\.go|_grpc\.pb\.go|_gen\.go|\.gen\.go|/gen-go/.*\.go|_pb2(_grpc)?\.py)$"
)
_PY_STDLIB = re.compile(r"(^|/)(lib/python3\.\d+|lib64/python3\.\d+)/(?!site-packages/)")
_SITE = re.compile(r"(site-packages|dist-packages)/")
_BANG = re.compile(r"!([a-z])")  # the module cache's escape of capital letters
#: hosting sites whose module paths carry owner and repository
_HOSTED = ("github.com", "gitlab.com", "bitbucket.org", "golang.org", "gitee.com")


def package_of(function: str) -> str:
    """Return the Go package path of a function name.

    ``github.com/a/b/pkg.(*T).M`` -> ``github.com/a/b/pkg``; ``main.f`` -> ``main``.
    """
    function = function.split("[", 1)[0]  # generic type arguments hold dots and slashes
    slash = function.rfind("/")
    dot = function.find(".", slash + 1)
    return function[:dot] if dot >= 0 else function


def module_of(function: str, file: str = "") -> str:
    """Return the module (or standard-library package) a function belongs to.

    The module cache path in ``file`` says it exactly (``.../pkg/mod/github.com/!i!b!m/
    sarama@v1.43.0/...`` -> ``github.com/IBM/sarama``). Otherwise a heuristic on the
    import path: ``google.golang.org/grpc/internal/transport.f`` -> ``google.golang.org/grpc``,
    hosting sites carry owner/repo, other domains one element, ``net/http.f`` -> ``net/http``.
    """
    if "/pkg/mod/" in file:
        rest = file.split("/pkg/mod/", 1)[1]
        if "@" in rest:
            return _BANG.sub(lambda m: m.group(1).upper(), rest.split("@", 1)[0])
    parts = package_of(function).split("/")
    if "." not in parts[0]:
        return "/".join(parts[:2]) if parts[0] in ("internal", "vendor") else "/".join(parts)
    return "/".join(parts[: 3 if parts[0] in _HOSTED else 2])


@dataclass(frozen=True, slots=True)
class AppMatcher:
    """Classifies frames; built once per analysis from all the frames it saw."""

    prefix: str | None = None
    goroot: str | None = None

    def origin(self, frame: Frame) -> Origin:
        """Return the origin of one frame."""
        fn, file = frame.function, frame.file
        if self.prefix is not None:
            if _GENERATED.search(file):
                return Origin.GENERATED
            if fn.startswith((self.prefix, "main.")):
                return Origin.APP
            return Origin.RUNTIME if _is_runtime(fn) else Origin.THIRD_PARTY
        if _is_runtime(fn):
            return Origin.RUNTIME
        if _GENERATED.search(file):
            return Origin.GENERATED
        if file.endswith(".py"):
            return _python_origin(file)
        if self.goroot and file.startswith(self.goroot):
            return Origin.STDLIB
        if "/pkg/mod/" in file or "/vendor/" in file or "@v" in file:
            return Origin.THIRD_PARTY
        pkg = package_of(fn)
        first = pkg.split("/", 1)[0]
        if pkg == "main" or fn.startswith("main."):
            return Origin.APP
        if "." not in first:
            # no domain: standard library (or a module named without one)
            if self.goroot or not file or not file.startswith("/"):
                return Origin.STDLIB
            return Origin.APP if "/src/" not in file else Origin.STDLIB
        return Origin.APP if file else Origin.THIRD_PARTY

    def is_app(self, frame: Frame) -> bool:
        """Return True for frames of the application's own code."""
        return self.origin(frame) is Origin.APP

    @staticmethod
    def detect(frames: Iterable[Frame], prefix: str | None = None) -> AppMatcher:
        """Build a matcher, finding GOROOT from the runtime's own file paths."""
        goroot = None
        for f in frames:
            if f.function.startswith("runtime.") and "/src/runtime/" in f.file:
                goroot = f.file[: f.file.index("/src/runtime/") + 1]
                break
        return AppMatcher(prefix=prefix, goroot=goroot)


def _is_runtime(function: str) -> bool:
    return function.startswith(("runtime.", "runtime/internal", "internal/runtime"))


def _python_origin(file: str) -> Origin:
    if _SITE.search(file):
        return Origin.THIRD_PARTY
    if _PY_STDLIB.search(file) or file.startswith("<frozen"):
        return Origin.STDLIB
    return Origin.APP


#: Frames that run event-loop callbacks: what sits below them (``asyncio.run(main())``)
#: started the loop, not this work. Python stacks only; Go stacks never hold them.
_DISPATCHERS = frozenset({"asyncio.events.Handle._run"})


#: Library frames that run whatever function they are handed, whoever handed it: a
#: thread's or worker pool's loop. What runs under them on one stack says nothing
#: about another stack under them (unlike a server's connection loop, which runs the
#: same handlers for every request it reads).
_RUNNERS = (
    "threading.",
    "concurrent.futures.",
    "asyncio.",
    "multiprocessing.",
    "sync.(*WaitGroup).Go.",
    "golang.org/x/sync/errgroup.",
    "github.com/sourcegraph/conc.",
    "github.com/sourcegraph/conc/",
    "github.com/panjf2000/ants.",
    "github.com/panjf2000/ants/",
)


def runs_anything(frame: Frame) -> bool:
    """Return True for an event-loop dispatcher or a generic runner of functions."""
    return frame.function in _DISPATCHERS or frame.function.startswith(_RUNNERS)


def chain_keys(frames: Sequence[Frame], matcher: AppMatcher) -> list[str]:
    """Key, per frame, the chain of frames from the stack's root down to it (innermost first).

    Runtime frames are left out (goroutine profiles show ``runtime.goexit`` under
    the root, and so on) and get no key: the result is aligned with the non-runtime
    frames. The key is a short stable hash of the function names, the same in
    every process (a saved analyser reads it back).
    """
    h = hashlib.blake2b(digest_size=8)
    out = []
    for f in reversed(frames):
        if matcher.origin(f) is Origin.RUNTIME:
            continue
        h.update(f.function.encode())
        h.update(b"\n")
        out.append(h.hexdigest())
    out.reverse()
    return out


def culprit(frames: Sequence[Frame], matcher: AppMatcher) -> Frame | None:
    """Return the innermost application frame, or None if the stack has none.

    The search stops at an event-loop dispatcher: memory a library allocates in
    a loop callback (a protocol's ``data_received``) is not the doing of the
    ``main()`` that started the loop.
    """
    for f in frames:
        if f.function in _DISPATCHERS:
            return None
        if matcher.is_app(f):
            return f
    return None


def first_interesting(frames: Sequence[Frame], matcher: AppMatcher) -> Frame | None:
    """Return the innermost frame that is not runtime plumbing (fallback culprit)."""
    for f in frames:
        if matcher.origin(f) is not Origin.RUNTIME and not f.function.startswith(
            ("sync.", "internal/", "syscall.")
        ):
            return f
    return frames[0] if frames else None
