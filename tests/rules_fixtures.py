"""Rule fixtures: real findings (and what their session saw) as small JSON files.

Each fixture under tests/data/rules/ holds one finding of a real recorded session
(a zoo scenario, a tests/goprogs_rules pattern on the Go runtime or a
tests/pyprogs_rules pattern of a CPython process serving leakhunter.agent): its
kind, stacks, goroutine (task/thread) facts and series, plus the slice of the
session's facts the rules can ask about (packages, goroutine groups, the
creator's stacks, the finding's site). Tests rebuild the Finding and SessionFacts
from it and run the rule engine, without Go and without running Python services.

    python tests/rules_fixtures.py capture [--goprogs] [--pyprogs]  # rewrite tests/data/rules/

captures every finding of the cached zoo sessions (~/.cache/leakhunter/zoo-sessions,
Go and py-* scenarios) and, with --goprogs / --pyprogs, records each goprog / pyprog
pattern afresh. ``expect`` in a fixture is the rule the engine picked at capture
time: review the diff before committing.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from leakhunter.analyze.frames import AppMatcher
from leakhunter.analyze.verdict import (
    Finding,
    FindingKind,
    FindingVerdict,
    GoroutineFacts,
    Growth,
    Series,
)
from leakhunter.model.goroutine import Frame
from leakhunter.rules.facts import GroupFacts, SessionFacts, SiteFacts

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "data" / "rules"
ZOO_SESSIONS = Path.home() / ".cache" / "leakhunter" / "zoo-sessions"
_MAX_FRAMES = 40
_MAX_GROUP_FRAMES = 24


def _frame(f: Frame | None) -> list[Any] | None:
    return None if f is None else [f.function, f.file, f.line]


def _unframe(d: Sequence[Any] | None) -> Frame | None:
    if d is None:
        return None
    return Frame(str(d[0]), str(d[1]) if len(d) > 1 else "", int(d[2]) if len(d) > 2 else 0)


def _frames(fs: Iterable[Frame], limit: int = _MAX_FRAMES) -> list[list[Any]]:
    return [[f.function, f.file, f.line] for f in list(fs)[:limit]]


def _unframes(d: Iterable[Sequence[Any]]) -> tuple[Frame, ...]:
    return tuple(f for x in d if (f := _unframe(x)) is not None)


def finding_to_json(f: Finding) -> dict[str, Any]:
    """Encode the parts of a finding the rules read."""
    g = f.goroutines
    return {
        "kind": f.kind.value,
        "verdict": f.verdict.value,
        "confidence": f.confidence,
        "culprit": _frame(f.culprit),
        "stack": _frames(f.stack),
        "linked": list(f.linked),
        "growth": [f.growth.unit, f.growth.start, f.growth.end, f.growth.per_hour],
        "series": [
            {"label": s.label, "unit": s.unit, "t": list(s.t), "values": list(s.values)}
            for s in f.series
        ],
        "goroutines": None
        if g is None
        else {
            "state": g.state,
            "state_class": g.state_class,
            "count_start": g.count_start,
            "count_end": g.count_end,
            "leaked": g.leaked,
            "created_by": _frame(g.created_by),
            "state_inferred": g.state_inferred,
            "stack": _frames(g.stack),
        },
    }


def finding_from_json(d: dict[str, Any]) -> Finding:
    """Rebuild a Finding from finding_to_json's output."""
    g = d.get("goroutines")
    unit, start, end, per_hour = d["growth"]
    return Finding(
        id="fixture",
        kind=FindingKind(d["kind"]),
        verdict=FindingVerdict(d["verdict"]),
        confidence=float(d["confidence"]),
        culprit=_unframe(d["culprit"]),
        stack=_unframes(d["stack"]),
        growth=Growth(unit, start, end, per_hour),
        evidence=(),
        series=tuple(
            Series(s["label"], s["unit"], tuple(s["t"]), tuple(s["values"])) for s in d["series"]
        ),
        goroutines=None
        if g is None
        else GoroutineFacts(
            state=g["state"],
            state_class=g["state_class"],
            count_start=g["count_start"],
            count_end=g["count_end"],
            leaked=g["leaked"],
            created_by=_unframe(g["created_by"]),
            state_inferred=g["state_inferred"],
            stack=_unframes(g["stack"]),
        ),
        linked=tuple(d["linked"]),
    )


def session_to_json(s: SessionFacts, f: Finding) -> dict[str, Any]:
    """Encode what the session saw that the rules may ask about this finding."""
    from leakhunter.analyze.series import site_key

    keys = {site_key(s.matcher)(f.stack)} | {
        x.label.removeprefix("inuse bytes at ") for x in f.series if x.unit == "bytes"
    }
    creator = f.goroutines.created_by if f.goroutines else None
    stacks = [
        st
        for st in s.stacks
        if creator is not None and any(x.function == creator.function for x in st)
    ]
    return {
        "matcher": {"prefix": s.matcher.prefix, "goroot": s.matcher.goroot},
        "packages": sorted(s.packages),
        "libraries": list(s.libraries),
        "leak_profile": s.leak_profile,
        "groups": [
            {
                "frames": [x.function for x in g.frames[:_MAX_GROUP_FRAMES]],
                "state": g.state,
                "wait": g.wait,
                "max_count": g.max_count,
            }
            for g in s.groups
        ],
        "stacks": [_frames(st) for st in stacks[:8]],
        "sites": {
            k: [v.inuse_start, v.inuse_end, v.alloc_delta, v.objects_start, v.objects_end]
            for k, v in s.sites.items()
            if k in keys
        },
    }


def session_from_json(d: dict[str, Any]) -> SessionFacts:
    """Rebuild SessionFacts from session_to_json's output."""
    m = d["matcher"]
    return SessionFacts(
        packages=frozenset(d["packages"]),
        libraries=tuple(d["libraries"]),
        groups=tuple(
            GroupFacts(
                tuple(Frame(fn) for fn in g["frames"]), g["state"], g["wait"], g["max_count"]
            )
            for g in d["groups"]
        ),
        stacks=tuple(_unframes(st) for st in d["stacks"]),
        leak_profile=d["leak_profile"],
        sites={k: SiteFacts(*v) for k, v in d["sites"].items()},
        matcher=AppMatcher(prefix=m["prefix"], goroot=m["goroot"]),
    )


def load(name: str) -> tuple[Finding, SessionFacts, dict[str, Any]]:
    """Load fixture NAME (file stem); return the finding, its session facts, the document."""
    doc = json.loads((FIXTURES / f"{name}.json").read_text())
    return finding_from_json(doc["finding"]), session_from_json(doc["session"]), doc


def names() -> list[str]:
    """Return the stems of every committed fixture."""
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def _analyze(directory: Path) -> tuple[list[Finding], SessionFacts]:
    from leakhunter.pipeline import judge_dir

    judged = judge_dir(directory)
    return list(judged.verdict.findings), judged.analysis.facts


def _write(stem: str, source: str, f: Finding, s: SessionFacts) -> None:
    doc = {
        "source": source,
        "expect": f.rule.id if f.rule else None,
        "culprit": f.culprit.function if f.culprit else None,
        "finding": finding_to_json(f),
        "session": session_to_json(s, f),
    }
    (FIXTURES / f"{stem}.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{stem}: {doc['expect']}")


_PY_STDLIB = re.compile(r"/lib/python(3\.\d+)/")


def runtime_of(findings: Sequence[Finding]) -> str:
    """Say which real runtime recorded the findings: Go, or CPython (from its stdlib paths)."""
    files = [
        fr.file
        for f in findings
        for fr in (*f.stack, *(f.goroutines.stack if f.goroutines else ()))
    ]
    if not any(fl.endswith(".py") for fl in files):
        return "real Go runtime"
    version = next((m.group(1) for fl in files if (m := _PY_STDLIB.search(fl))), "3")
    return f"real CPython {version} runtime (leakhunter.agent in-process, tracemalloc on)"


def capture_session(prefix: str, directory: Path, source: str, limit: int = 4) -> None:
    """Write one fixture per finding (up to limit) of a recorded session.

    ``source`` says where the session comes from; the runtime it ran on is appended.
    """
    findings, facts = _analyze(directory)
    source = f"{source}, {runtime_of(findings)}"
    for i, f in enumerate(findings[:limit]):
        _write(f"{prefix}-{i}", source, f, facts)


def capture(goprogs: bool = False, pyprogs: bool = False) -> None:
    """Rewrite the fixtures from the cached zoo sessions (and, with goprogs/pyprogs, fresh runs)."""
    from leakhunter.harness.manifest import load_manifest

    FIXTURES.mkdir(parents=True, exist_ok=True)
    for sc in load_manifest():
        path = ZOO_SESSIONS / sc.name
        if not (path / "manifest.json").exists():
            print(f"{sc.name}: no cached session, skipped", file=sys.stderr)
            continue
        source = (
            f"zoo scenario {sc.name}: cached recording (python -m leakhunter.harness record "
            f"{sc.name} OUT --snapshots 15 --interval 1)"
        )
        capture_session(f"zoo-{sc.name}", path, source)
    if goprogs:
        from rules_goprogs import PATTERNS, record

        for pattern in PATTERNS:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / pattern
                record(pattern, out)
                source = (
                    f"tests/goprogs_rules pattern {pattern}: recorded with rules_goprogs.record "
                    "(12 snapshots at 0.5 s)"
                )
                capture_session(f"goprog-{pattern}", out, source, limit=2)
    if pyprogs:
        import rules_pyprogs

        for pattern in rules_pyprogs.PATTERNS:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / pattern
                rules_pyprogs.record(pattern, out)
                source = (
                    f"tests/pyprogs_rules pattern {pattern}: recorded with rules_pyprogs.record "
                    "(12 snapshots at 0.5 s)"
                )
                capture_session(f"pyprog-{pattern}", out, source, limit=2)


def reexpect() -> None:
    """Recompute ``expect`` of every fixture with the current rules (after a rule change)."""
    from leakhunter.rules import best_match, builtin_rules

    rules = builtin_rules()
    for name in names():
        f, s, doc = load(name)
        m = best_match(f, rules, s)
        new = m.rule.id if m else None
        if new != doc["expect"]:
            print(f"{name}: {doc['expect']} -> {new}")
            doc["expect"] = new
            (FIXTURES / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS))
    if sys.argv[1:2] == ["reexpect"]:
        reexpect()
    elif sys.argv[1:2] == ["capture"]:
        capture(goprogs="--goprogs" in sys.argv, pyprogs="--pyprogs" in sys.argv)
    else:
        sys.exit("usage: python tests/rules_fixtures.py capture [--goprogs] [--pyprogs] | reexpect")
