"""The pipeline runs one way: no stage imports a stage downstream of it.

model -> formats -> ops -> collect -> analyze -> rules -> compare -> report -> gate -> serve -> cli.
``analyze`` produces facts and never imports ``rules``; renderers never reach
back into collection. Checked on the source (imports anywhere in a module,
lazy ones included), so a shortcut cannot slip in unseen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "leakhunter"
ORDER = (
    "model",
    "formats",
    "ops",
    "collect",
    "analyze",
    "rules",
    "compare",
    "report",
    "gate",
    "serve",
    "cli",
)
RANK = {name: i for i, name in enumerate(ORDER)}


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return [m for m in out if m.startswith("leakhunter.")]


STAGE_FILES = sorted(
    p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] in RANK and p.parent != SRC
)


@pytest.mark.parametrize("path", STAGE_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_stage_imports_a_later_one(path: Path) -> None:
    me = path.relative_to(SRC).parts[0]
    later = [m for m in _imports(path) if RANK.get(m.split(".")[1], -1) > RANK[me]]
    assert not later, f"{me} must not import {later}"


def test_analysis_never_imports_rules() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in (SRC / "analyze").glob("*.py")
        if any(m.startswith("leakhunter.rules") for m in _imports(p))
    ]
    assert offenders == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from leakhunter.rules import apply_rules\n")
    assert _imports(bad) == ["leakhunter.rules"]
