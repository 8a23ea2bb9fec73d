"""Name Python frames the way the agent's profiles print them: ``module.qualname``.

Coroutine and thread frames carry their code object, so their names come from
``co_qualname``; tracemalloc frames carry only (file, line), so the enclosing
function is found from the file's syntax tree with the same naming rules
(``f.<locals>.g``, ``<lambda>``, ``<listcomp>``, ``<module>``). Both paths give one
name per function, so heap and task findings of one cause share their frames.
"""

from __future__ import annotations

import ast
import linecache
import os
import sys
import threading
from types import CodeType

from leakhunter.model.goroutine import Frame

__all__ = ["Namer"]

_SCOPES: dict[type[ast.AST], str | None] = {
    ast.FunctionDef: None,
    ast.AsyncFunctionDef: None,
    ast.ClassDef: None,
    ast.Lambda: "<lambda>",
    ast.ListComp: "<listcomp>",
    ast.SetComp: "<setcomp>",
    ast.DictComp: "<dictcomp>",
    ast.GeneratorExp: "<genexpr>",
}


def _line_names(source: str) -> list[str]:
    """Return the qualname of the innermost scope of every line (index 0 = line 1)."""
    names = ["<module>"] * (source.count("\n") + 2)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return names

    def walk(node: ast.AST, prefix: str, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            kind = type(child)
            if kind not in _SCOPES:
                walk(child, prefix, in_function)
                continue
            own = _SCOPES[kind] or getattr(child, "name", "?")
            qual = f"{prefix}{own}"
            start = getattr(child, "lineno", 1)
            end = getattr(child, "end_lineno", start) or start
            for i in range(start, min(end, len(names) - 1) + 1):
                names[i - 1] = qual
            is_class = kind is ast.ClassDef
            walk(child, qual + ("." if is_class else ".<locals>."), not is_class)

    walk(tree, "", False)
    return names


class Namer:
    """Caches module names per file and per-line scope names; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modules: dict[str, str] = {}
        self._modules_seen = -1
        self._lines: dict[str, list[str]] = {}
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
        """Return the frame of a (file, line) pair, naming its enclosing function."""
        names = self._lines.get(filename)
        if names is None:
            source = "".join(linecache.getlines(filename))
            names = _line_names(source) if source else []
            with self._lock:
                self._lines[filename] = names
        scope = names[line - 1] if 0 < line <= len(names) else "<module>"
        return Frame(f"{self.module_of(filename)}.{scope}", filename, line)
