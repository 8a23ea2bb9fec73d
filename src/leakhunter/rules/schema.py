r"""The rule file schema (leakhunter.rules/1): validate one ``[[rule]]`` table into a Rule.

A rule file is TOML::

    [[rule]]
    id = "GO-GRPC-STREAM-NOT-CLOSED"      # stable, UPPER-KEBAB
    title = "gRPC client stream never closed"
    explanation = "what it means and why it leaks"
    fix = "the fix in one or two sentences"
    sketch = '''a short Go code sketch of the fix'''
    confidence = 0.05                     # added to the finding's confidence
    references = ["https://..."]

    [[rule.when]]                         # one or more; any block may match
    kind = ["goroutine"]
    stack = ['^google\.golang\.org/grpc\.newClientStream']
    wait = ["select"]

tomllib keeps no positions, so ``Locator`` re-scans the text for the line of
each table header and key; problems come out as (line, message) pairs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from leakhunter.rules.model import (
    ALLOC_VALUES,
    KINDS,
    OBJECT_SIZE_VALUES,
    OBJECT_VALUES,
    ORIGINS,
    RUNTIMES,
    SHAPES,
    WAIT_CLASSES,
    Conditions,
    Rule,
    SessionGroup,
)

__all__ = ["Locator", "parse_rule"]

_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
_KEY = re.compile(r"""^\s*(["']?)([A-Za-z0-9_\-]+)\1\s*=""")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
_RULE_KEYS = (
    "id",
    "title",
    "explanation",
    "fix",
    "sketch",
    "confidence",
    "references",
    "runtime",
    "when",
)
Problems = list[tuple[int, str]]


@dataclass(slots=True)
class Locator:
    """Line numbers of the tables and keys of a rule file, by rule and block index."""

    text: str
    _top: dict[str, int] = field(default_factory=dict)
    _rules: list[int] = field(default_factory=list)
    _rule_keys: list[dict[str, int]] = field(default_factory=list)
    _blocks: list[list[int]] = field(default_factory=list)
    _block_keys: list[list[dict[str, int]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        keys, prefix = self._top, ""
        in_string: str | None = None
        for n, line in enumerate(self.text.splitlines(), start=1):
            if in_string is None:
                head = _HEADER.match(line)
                if head is not None and not _KEY.match(line):
                    keys, prefix = self._enter(head.group(2), n, keys, prefix)
                elif (key := _KEY.match(line)) is not None:
                    keys.setdefault(prefix + key.group(2), n)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1 and in_string in (None, quote):
                    in_string = None if in_string == quote else quote

    def _enter(
        self, name: str, n: int, keys: dict[str, int], prefix: str
    ) -> tuple[dict[str, int], str]:
        """Open the table a header names; return where its keys go and their prefix."""
        if name == "rule":
            self._rules.append(n)
            self._rule_keys.append({})
            self._blocks.append([])
            self._block_keys.append([])
            return self._rule_keys[-1], ""
        if name == "rule.when" and self._rules:
            self._blocks[-1].append(n)
            self._block_keys[-1].append({})
            return self._block_keys[-1][-1], ""
        if name == "rule.when.session" and self._blocks and self._blocks[-1]:
            block = self._block_keys[-1][-1]
            block.setdefault("session", n)
            return block, "session."
        return keys, prefix

    def top(self, key: str) -> int:
        """Return the line of a top-level key (1 if unknown)."""
        return self._top.get(key, 1)

    def rule(self, i: int, key: str | None = None) -> int:
        """Return the line of rule i's header, or of one of its keys."""
        if i >= len(self._rules):
            return 1
        return self._rule_keys[i].get(key, self._rules[i]) if key else self._rules[i]

    def block(self, i: int, j: int, key: str | None = None) -> int:
        """Return the line of block j of rule i, or of one of its keys."""
        if i >= len(self._blocks) or j >= len(self._blocks[i]):
            return self.rule(i, "when")
        line = self._blocks[i][j]
        if not key:
            return line
        keys = self._block_keys[i][j]
        if key.startswith("session.") and key not in keys:
            key = "session"
        return keys.get(key, line)


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _regex(value: str) -> re.Pattern[str] | str:
    try:
        return re.compile(value)
    except re.error as exc:
        return f"invalid regex /{value}/: {exc}"


@dataclass(slots=True)
class _Block:
    """Validates one when-block mapping, collecting problems with their lines."""

    raw: Mapping[str, object]
    line_of: Callable[[str], int]
    problems: Problems = field(default_factory=list)

    def fail(self, key: str, msg: str) -> None:
        self.problems.append((self.line_of(key), msg))

    def regexes(self, key: str) -> tuple[re.Pattern[str], ...]:
        if key not in self.raw:
            return ()
        vals = _strings(self.raw[key])
        if not vals:
            self.fail(key, f"'{key}' must be a regex string or a non-empty list of them")
            return ()
        out = []
        for v in vals:
            p = _regex(v)
            if isinstance(p, str):
                self.fail(key, f"'{key}': {p}")
            else:
                out.append(p)
        return tuple(out)

    def regex(self, key: str) -> re.Pattern[str] | None:
        if key not in self.raw:
            return None
        if not isinstance(self.raw[key], str):
            self.fail(key, f"'{key}' must be one regex string")
            return None
        got = self.regexes(key)
        return got[0] if got else None

    def choices(self, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        if key not in self.raw:
            return ()
        vals = _strings(self.raw[key])
        if not vals:
            self.fail(key, f"'{key}' must be a string or a non-empty list of strings")
            return ()
        bad = [v for v in vals if v not in allowed]
        if bad:
            self.fail(key, f"'{key}': unknown value(s) {bad}; expected any of {list(allowed)}")
        return tuple(v for v in vals if v in allowed)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str | None:
        if key not in self.raw:
            return None
        value = self.raw[key]
        if value not in allowed:
            self.fail(key, f"'{key}' must be one of {list(allowed)}, not {value!r}")
            return None
        return str(value)


def _session(raw: object, line_of: Callable[[str], int], problems: Problems) -> SessionGroup | None:
    if not isinstance(raw, dict):
        problems.append((line_of("session"), "'session' must be a table"))
        return None
    b = _Block(raw, lambda k: line_of(f"session.{k}") if k else line_of("session"))
    for key in raw:
        if key not in ("stack", "wait", "min_count"):
            b.fail(key, f"unknown key '{key}' in session (expected stack, wait, min_count)")
    stack = b.regexes("stack")
    if "stack" not in raw:
        b.fail("", "session needs a 'stack' regex list")
    count = raw.get("min_count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        b.fail("min_count", "'min_count' must be a positive integer")
        count = 1
    group = SessionGroup(stack, b.choices("wait", WAIT_CLASSES), count)
    problems.extend(b.problems)
    return group if stack else None


_BLOCK_KEYS = (
    "kind",
    "stack",
    "not_stack",
    "leaf",
    "culprit",
    "created_by",
    "created_in",
    "leaf_origin",
    "culprit_origin",
    "wait",
    "state",
    "shape",
    "alloc",
    "objects",
    "object_size",
    "min_object_bytes",
    "leaked",
    "library",
    "session",
)


def _parse_block(
    raw: Mapping[str, object], line_of: Callable[[str], int]
) -> tuple[Conditions | None, Problems]:
    b = _Block(raw, line_of)
    for key in raw:
        if key not in _BLOCK_KEYS:
            b.fail(key, f"unknown condition '{key}' (expected one of: {', '.join(_BLOCK_KEYS)})")
    if not raw:
        b.fail("", "a [[rule.when]] block needs at least one condition")
    size = raw.get("min_object_bytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        b.fail("min_object_bytes", "'min_object_bytes' must be a positive integer")
        size = None
    leaked = raw.get("leaked")
    if leaked is not None and not isinstance(leaked, bool):
        b.fail("leaked", "'leaked' must be true or false")
        leaked = None
    library = _strings(raw["library"]) if "library" in raw else ()
    if library is None or ("library" in raw and not library):
        b.fail("library", "'library' must be a module path or a list of them")
        library = ()
    session = _session(raw["session"], line_of, b.problems) if "session" in raw else None
    cond = Conditions(
        kind=b.choices("kind", KINDS),
        stack=b.regexes("stack"),
        not_stack=b.regexes("not_stack"),
        leaf=b.regex("leaf"),
        culprit=b.regex("culprit"),
        created_by=b.regex("created_by"),
        created_in=b.regex("created_in"),
        leaf_origin=b.choices("leaf_origin", ORIGINS),
        culprit_origin=b.choices("culprit_origin", ORIGINS),
        wait=b.choices("wait", WAIT_CLASSES),
        state=b.regex("state"),
        shape=b.choices("shape", SHAPES),
        alloc=b.choice("alloc", ALLOC_VALUES),
        objects=b.choice("objects", OBJECT_VALUES),
        object_size=b.choice("object_size", OBJECT_SIZE_VALUES),
        min_object_bytes=size if isinstance(size, int) else None,
        leaked=leaked if isinstance(leaked, bool) else None,
        library=library,
        session=session,
        line=line_of(""),
    )
    return (None if b.problems else cond), b.problems


def _text(raw: Mapping[str, object], key: str, required: bool, p: Problems, line: int) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            p.append((line, f"missing required key '{key}'"))
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        p.append((line, f"'{key}' must be a non-empty string"))
        return ""
    return value.strip("\n")


def _block_lines(loc: Locator, i: int, j: int) -> Callable[[str], int]:
    def line_of(key: str) -> int:
        return loc.block(i, j, key or None)

    return line_of


def parse_rule(
    raw: object, i: int, loc: Locator, source: str, builtin: bool
) -> tuple[Rule | None, Problems]:
    """Validate the i-th ``[[rule]]`` table; return the Rule (None on errors) and problems."""
    p: Problems = []
    if not isinstance(raw, dict):
        return None, [(loc.rule(i), "each [[rule]] must be a table")]
    p.extend(
        (loc.rule(i, k), f"unknown key '{k}' in rule (expected one of: {', '.join(_RULE_KEYS)})")
        for k in raw
        if k not in _RULE_KEYS
    )
    texts = {
        k: _text(raw, k, k != "sketch", p, loc.rule(i, k))
        for k in ("id", "title", "explanation", "fix", "sketch")
    }
    if texts["id"] and not _ID.match(texts["id"]):
        p.append((loc.rule(i, "id"), f"id {texts['id']!r} must be UPPER-KEBAB like GO-X-Y"))
    conf = raw.get("confidence", 0.0)
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not -1.0 <= conf <= 1.0:
        p.append((loc.rule(i, "confidence"), "'confidence' must be a number from -1 to 1"))
        conf = 0.0
    refs = _strings(raw.get("references", []))
    if refs is None:
        p.append((loc.rule(i, "references"), "'references' must be a list of strings"))
    runtime = raw.get("runtime")
    if runtime is not None and runtime not in RUNTIMES:
        p.append((loc.rule(i, "runtime"), f"'runtime' must be one of: {', '.join(RUNTIMES)}"))
    blocks = raw.get("when")
    conds: list[Conditions] = []
    if not isinstance(blocks, list) or not blocks or not all(isinstance(b, dict) for b in blocks):
        p.append((loc.rule(i, "when"), "a rule needs one or more [[rule.when]] tables"))
    else:
        for j, block in enumerate(blocks):
            cond, errs = _parse_block(block, _block_lines(loc, i, j))
            p.extend(errs)
            if cond is not None:
                conds.append(cond)
    if p:
        return None, p
    rule = Rule(
        id=texts["id"],
        title=texts["title"],
        explanation=texts["explanation"],
        fix=texts["fix"],
        sketch=texts["sketch"],
        when=tuple(conds),
        confidence=float(conf),
        references=refs or (),
        runtime=runtime if isinstance(runtime, str) else None,
        source=source,
        line=loc.rule(i),
        builtin=builtin,
    )
    return rule, p
