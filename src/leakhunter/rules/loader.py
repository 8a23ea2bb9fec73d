"""Load and validate rule files: the builtin TOML files, user rule dirs, LEAKHUNTER_RULES.

Every problem is reported as ``file:line: message`` (TOML syntax errors at the
parser's position, schema errors at the offending key or table), and all of a
file's problems are reported at once. User rules are loaded after the builtin
ones; a user rule with a builtin rule's id replaces it.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path

from leakhunter.errors import RuleError
from leakhunter.rules.model import Rule
from leakhunter.rules.schema import Locator, parse_rule

__all__ = [
    "ENV_VAR",
    "builtin_rules",
    "check_paths",
    "load_rules",
    "parse_rules",
    "rule_dirs_from_env",
]

#: Environment variable naming user rule dirs, separated by os.pathsep.
ENV_VAR = "LEAKHUNTER_RULES"
_SCHEMA = "leakhunter.rules/1"
_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _syntax_problem(source: str, exc: tomllib.TOMLDecodeError) -> str:
    msg = str(exc)
    m = _POSITION.search(msg)
    if m is None:
        return f"{source}:1: TOML syntax error: {msg}"
    return f"{source}:{m.group(1)}: TOML syntax error: {msg[: m.start()]} (column {m.group(2)})"


def parse_rules(
    text: str, source: str, *, builtin: bool = False
) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """Parse one rule file's text; return its rules and its problems (file:line: message)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return (), (_syntax_problem(source, exc),)
    loc = Locator(text)
    problems = [
        f"{source}:{loc.top(key)}: unknown top-level key '{key}'"
        for key in doc
        if key not in ("rule", "schema")
    ]
    if "schema" in doc and doc["schema"] != _SCHEMA:
        problems.append(f"{source}:{loc.top('schema')}: schema must be '{_SCHEMA}'")
    raw = doc.get("rule", [])
    if not isinstance(raw, list) or not raw:
        problems.append(f"{source}:1: no rules: expected one or more [[rule]] tables")
        return (), tuple(problems)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(raw):
        rule, errs = parse_rule(table, i, loc, source, builtin)
        problems.extend(f"{source}:{line}: {msg}" for line, msg in errs)
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(
                f"{source}:{rule.line}: duplicate rule id {rule.id} (first at line {seen[rule.id]})"
            )
            continue
        seen[rule.id] = rule.line
        rules.append(rule)
    return tuple(rules), tuple(sorted(problems, key=_line_of))


def _line_of(problem: str) -> int:
    head = problem.split(": ", 1)[0]
    line = head.rsplit(":", 1)[-1]
    return int(line) if line.isdigit() else 0


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".toml" and p.is_file())
    return [path]


def check_paths(paths: Iterable[str | Path]) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """Validate rule files and dirs (as for ``rules check``): their rules and all problems."""
    rules: list[Rule] = []
    problems: list[str] = []
    where: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            problems.append(f"{path}:0: no such file or directory")
            continue
        for file in _files(path):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{file}:0: cannot read: {exc}")
                continue
            found, errs = parse_rules(text, str(file))
            problems.extend(errs)
            for r in found:
                if r.id in where and where[r.id] != str(file):
                    problems.append(
                        f"{file}:{r.line}: duplicate rule id {r.id} (also in {where[r.id]})"
                    )
                    continue
                where[r.id] = f"{file}:{r.line}"
                rules.append(r)
    return tuple(rules), tuple(problems)


@functools.cache
def builtin_rules() -> tuple[Rule, ...]:
    """Return the rules shipped in the package (leakhunter/rules/builtin/*.toml).

    Parsed once per process (frozen values): serve judges after every scrape,
    and re-reading the TOML each time cost 14 ms of a 24 ms scrape.
    """
    base = resources.files("leakhunter.rules").joinpath("builtin")
    rules: list[Rule] = []
    problems: list[str] = []
    for entry in sorted(base.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        found, errs = parse_rules(
            entry.read_text(encoding="utf-8"), f"builtin/{entry.name}", builtin=True
        )
        rules.extend(found)
        problems.extend(errs)
    if problems:  # a packaging bug, not a user error; still one clear line
        raise RuleError(tuple(problems))
    return tuple(rules)


def load_rules(dirs: Sequence[str | Path] = (), *, builtin: bool = True) -> tuple[Rule, ...]:
    """Return the builtin rules overlaid with the rules of each user dir, in order.

    Raises:
        RuleError: a user rule file does not parse or validate (all problems listed).
    """
    by_id: dict[str, Rule] = {r.id: r for r in builtin_rules()} if builtin else {}
    if dirs:
        rules, problems = check_paths(dirs)
        if problems:
            raise RuleError(problems)
        by_id.update((r.id, r) for r in rules)
    return tuple(by_id.values())


def rule_dirs_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Return the user rule dirs named by LEAKHUNTER_RULES (os.pathsep-separated)."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return tuple(d for d in value.split(os.pathsep) if d.strip())
