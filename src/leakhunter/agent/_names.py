"""Name Python frames the way the agent's profiles print them: ``module.qualname``.

Coroutine and thread frames carry their code object, so their names come from
``co_qualname``; tracemalloc frames carry only (file, line), so the enclosing
function is the innermost code object of the file's module (functions, methods,
nested code in ``co_consts``) whose lines hold it: the same ``co_qualname``. Both
paths give one name per function, so heap and task findings of one cause share
their frames. Lines outside any function are ``<module>``.
"""

from __future__ import annotations

import os
import sys
import threading
from types import CodeType, ModuleType

from leakhunter.model.goroutine import Frame

__all__ = ["Namer"]


def _builtin_type(t: type) -> bool:
    return getattr(t, "__module__", None) == "builtins"


def _codes_of(module: ModuleType) -> list[CodeType]:
    """Return the code objects defined in a module: functions, methods, nested ones."""
    filename = getattr(module, "__file__", None)
    out: list[CodeType] = []
    seen: set[int] = set()

    def code(obj: object) -> None:
        while hasattr(obj, "__wrapped__"):
            obj = obj.__wrapped__
        fn = getattr(obj, "__func__", obj)
        c = getattr(fn, "__code__", None)
        if isinstance(c, CodeType) and c.co_filename == filename:
            nested(c)

    def nested(c: CodeType) -> None:
        if id(c) in seen:
            return
        seen.add(id(c))
        out.append(c)
        for const in c.co_consts:
            if isinstance(const, CodeType):
                nested(const)

    def walk(namespace: dict[str, object], depth: int) -> None:
        for value in list(namespace.values()):
            if isinstance(value, type) and depth < 4:
                # not only classes whose __module__ is this module: httpx, httpcore and
                # others re-home public classes (__module__ = "httpx") defined here;
                # code() keeps only code objects of this file either way
                if id(value) not in seen and not _builtin_type(value):
                    seen.add(id(value))
                    walk(dict(vars(value)), depth + 1)
            elif isinstance(value, property):
                for part in (value.fget, value.fset, value.fdel):
                    code(part)
            else:
                code(value)

    walk(dict(vars(module)), 0)
    return out


def _spans(codes: list[CodeType]) -> list[tuple[int, int, str]]:
    """Return (first line, last line, qualname) per code object, smallest spans first."""
    spans = []
    for c in codes:
        lines = [ln for _, _, ln in c.co_lines() if ln is not None]
        start = min([c.co_firstlineno, *lines])
        spans.append((start, max([start, *lines]), c.co_qualname))
    spans.sort(key=lambda s: s[1] - s[0])
    return spans


class Namer:
    """Caches module names per file and per-line scope names; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modules: dict[str, str] = {}
        self._objects: dict[str, ModuleType] = {}
        self._modules_seen = -1
        self._spans: dict[str, list[tuple[int, int, str]]] = {}
        self._line_frames: dict[tuple[str, int], Frame] = {}
        self._codes: dict[CodeType, str] = {}

    def _refresh_modules(self) -> None:
        mods = dict(sys.modules)
        if len(mods) == self._modules_seen:
            return
        self._modules_seen = len(mods)
        for name, mod in mods.items():
            path = getattr(mod, "__file__", None)
            if not isinstance(path, str):
                continue
            spec = getattr(mod, "__spec__", None)
            spec_name = getattr(spec, "name", None)
            real = spec_name if isinstance(spec_name, str) and spec_name else name
            if real.endswith(".__main__"):
                real = real[: -len(".__main__")]
            self._modules.setdefault(os.path.abspath(path), real)
            self._objects.setdefault(os.path.abspath(path), mod)

    def module_of(self, filename: str) -> str:
        """Return the module a file was imported as (its stem when never imported)."""
        path = os.path.abspath(filename) if not filename.startswith("<") else filename
        with self._lock:
            name = self._modules.get(path)
            if name is None:
                self._refresh_modules()
                name = self._modules.get(path)
                if name is None:
                    stem = os.path.splitext(os.path.basename(filename))[0] or filename
                    name = self._modules.setdefault(path, stem.strip("<>"))
            return name

    def code_name(self, code: CodeType) -> str:
        """Return ``module.qualname`` of a code object."""
        name = self._codes.get(code)
        if name is None:
            name = f"{self.module_of(code.co_filename)}.{code.co_qualname}"
            if len(self._codes) > 50_000:
                self._codes.clear()
            self._codes[code] = name
        return name

    def code_frame(self, code: CodeType, line: int) -> Frame:
        """Return the frame of a code object at a line."""
        return Frame(self.code_name(code), code.co_filename, line)

    def line_frame(self, filename: str, line: int) -> Frame:
        """Return the frame of a (file, line) pair, naming its innermost enclosing function."""
        key = (filename, line)
        frame = self._line_frames.get(key)
        if frame is not None:
            return frame
        spans = self._spans.get(filename)
        if spans is None:
            self.module_of(filename)
            module = self._objects.get(os.path.abspath(filename))
            spans = _spans(_codes_of(module)) if module is not None else []
            self._spans[filename] = spans
        scope = next((q for a, b, q in spans if a <= line <= b), "<module>")
        frame = Frame(f"{self.module_of(filename)}.{scope}", filename, line)
        if len(self._line_frames) > 200_000:
            self._line_frames.clear()
        self._line_frames[key] = frame
        return frame
