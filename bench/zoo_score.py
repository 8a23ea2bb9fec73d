"""Scorecard: leakhunter's verdicts on every zoo scenario, against three baselines.

Records (or reuses) one session per scenario, 15 snapshots at 1 s, then scores
(``--snapshots 10``: on the first 10 snapshots of each session only):
  leakhunter - the full analysis (the fold analyze runs, then the rules);
  by-hand    - what an engineer does: diff the first and last heap profiles and
               goroutine groups, blame the top grower (leak if heap or goroutines
               grew by more than 10%);
  leakprof   - LeakProf's rule: >= T goroutines parked on a channel op at one place;
  gleak      - Go's goroutineleak profile at the last snapshot (any leaked => leak).
A leak scores recall if called "leak", culprit if its culprit function is one the
manifest lists (leakhunter's first leak finding must also carry the manifest's rule:
its own line); a control or churn called "leak" is a false alarm. Churn must also get
a churn finding.

The compare column scores `leakhunter compare` on pairs of real sessions (a
second, independent run NAME@2 is recorded for every scenario that needs one):
a leak vs its fixed variant must say "fixed", the fixed variant vs the leak
"regressed", a leak vs its second run "not-fixed", and any non-leak scenario vs
its second run "fixed" (no change; never a false "regressed").

    python bench/zoo_score.py [--sessions DIR] [--jobs 3] [--only NAME ...] [--rerecord]
                              [--snapshots 10]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leakhunter.analyze.frames import AppMatcher, Origin
from leakhunter.analyze.series import profile_frames
from leakhunter.collect.session import Snapshot, load_session
from leakhunter.compare import compare_dirs
from leakhunter.harness.build import build_zoo
from leakhunter.harness.manifest import ZooScenario, load_manifest
from leakhunter.harness.record import record
from leakhunter.model.goroutine import Frame
from leakhunter.model.profile import Profile
from leakhunter.pipeline import fold, judge

LEAKPROF_T = 100
CHANNEL_LEAVES = ("runtime.chanrecv", "runtime.chansend", "runtime.selectgo", "runtime.block")


@dataclass
class Call:
    verdict: str  # leak | no-leak | churn | inconclusive
    culprit: str | None
    rule: str | None = None  # the first leak finding's rule (leakhunter only)


def _interesting(frames: tuple[Frame, ...], m: AppMatcher) -> str | None:
    for f in frames:
        if m.is_app(f):
            return f.function
    for f in frames:
        if m.origin(f) is not Origin.RUNTIME:
            return f.function
    return frames[0].function if frames else None


def _per_function(p: Profile, index: int) -> dict[str, float]:
    """Flat value per innermost app-or-library frame, the way `top` attributes."""
    m = AppMatcher.detect([f for fr in profile_frames(p) for f in fr])
    frames_of = profile_frames(p)
    idx = {loc.id: i for i, loc in enumerate(p.locations)}
    out: dict[str, float] = {}
    col = p.column(index)
    for s, v in zip(p.sample_stack.tolist(), col.tolist(), strict=True):
        if not v:
            continue
        stack = tuple(f for lid in p.stacks.get(s) for f in frames_of[idx[lid]])
        name = _interesting(stack, m) or "?"
        out[name] = out.get(name, 0.0) + v
    return out


def _stack_groups(p: Profile) -> list[tuple[float, tuple[Frame, ...]]]:
    frames_of = profile_frames(p)
    idx = {loc.id: i for i, loc in enumerate(p.locations)}
    col = p.column(0)
    acc: dict[tuple[Frame, ...], float] = {}
    for s, v in zip(p.sample_stack.tolist(), col.tolist(), strict=True):
        stack = tuple(f for lid in p.stacks.get(s) for f in frames_of[idx[lid]])
        acc[stack] = acc.get(stack, 0.0) + v
    return sorted(((v, k) for k, v in acc.items()), key=lambda x: -x[0])


def _edges(snaps: list[Snapshot], kind: str) -> tuple[Snapshot, Snapshot]:
    """The first and the last snapshot holding a kind of profile (one can fail to arrive)."""
    have = [s for s in snaps if s.has(kind)] or snaps
    return have[0], have[-1]


def by_hand(snaps: list[Snapshot]) -> Call:
    first, last = _edges(snaps, "heap")
    h0, h1 = first.profile("heap"), last.profile("heap")
    i = h0.sample_index("inuse_space")
    a, b = _per_function(h0, i), _per_function(h1, i)
    growth = {k: b.get(k, 0.0) - a.get(k, 0.0) for k in set(a) | set(b)}
    top_heap = max(growth.items(), key=lambda kv: kv[1], default=("", 0.0))
    heap_grew = h1.total(i) > 1.1 * max(h0.total(i), 1)
    first, last = _edges(snaps, "goroutine")
    g0, g1 = first.profile("goroutine"), last.profile("goroutine")
    m = AppMatcher.detect([f for fr in profile_frames(g1) for f in fr])
    c0 = {k: v for v, k in _stack_groups(g0)}
    best = (0.0, None)
    for v, k in _stack_groups(g1):
        d = v - c0.get(k, 0.0)
        if d > best[0]:
            best = (d, k)
    gor_grew = g1.total(0) > 1.1 * max(g0.total(0), 1) and best[0] > 0
    if not heap_grew and not gor_grew:
        return Call("no-leak", None)
    heap_rel = top_heap[1] / max(h0.total(i), 1)
    gor_rel = best[0] / max(g0.total(0), 1)
    if gor_grew and (not heap_grew or gor_rel > heap_rel) and best[1] is not None:
        return Call("leak", _interesting(best[1], m))
    return Call("leak", top_heap[0] or None)


def leakprof(snaps: list[Snapshot]) -> Call:
    g = _edges(snaps, "goroutine")[1].profile("goroutine")
    m = AppMatcher.detect([f for fr in profile_frames(g) for f in fr])
    for v, stack in _stack_groups(g):
        if v >= LEAKPROF_T and any(f.function.startswith(CHANNEL_LEAVES) for f in stack[:3]):
            return Call("leak", _interesting(stack, m))
    return Call("no-leak", None)


def gleak(snaps: list[Snapshot]) -> Call:
    last = snaps[-1]
    if not last.has("goroutineleak"):
        return Call("no-leak", None)
    g = last.profile("goroutineleak")
    if g.total(0) <= 0:
        return Call("no-leak", None)
    m = AppMatcher.detect([f for fr in profile_frames(g) for f in fr])
    groups = _stack_groups(g)
    return Call("leak", _interesting(groups[0][1], m) if groups else None)


def ours(path: Path, snaps: list[Snapshot]) -> tuple[Call, bool, dict[str, object]]:
    v = judge(fold(str(path), snaps).analysis()).verdict
    leaks = [f for f in v.findings if f.verdict.value == "leak"]
    churn = any(f.kind.value == "churn" for f in v.findings)
    culprit = leaks[0].culprit.function if leaks and leaks[0].culprit else None
    info = {
        "summary": v.summary,
        "findings": [
            f"{f.verdict.value}/{f.kind.value} {f.culprit.function if f.culprit else '?'} "
            f"({f.confidence})"
            for f in v.findings
        ],
    }
    rule = leaks[0].rule.id if leaks and leaks[0].rule else None
    return Call(v.verdict.value, culprit, rule), churn, info


def score(sc: ZooScenario, call: Call, churn: bool | None = None) -> tuple[bool, bool, bool]:
    """Return (verdict right, culprit right, false alarm)."""
    if sc.verdict == "leak":
        hit = call.verdict == "leak"
        return hit, hit and call.culprit in sc.culprits, False
    alarm = call.verdict == "leak"
    right = not alarm and (sc.verdict != "churn" or churn is None or churn)
    return right, right, alarm


def compare_pairs(sc: ZooScenario, fixed: dict[str, str]) -> list[tuple[str, str, str]]:
    """Return (BEFORE folder, AFTER folder, expected result) pairs that score sc."""
    if sc.verdict == "leak":
        pairs = [(sc.name, f"{sc.name}@2", "not-fixed")]
        if sc.name in fixed:
            pairs.insert(0, (sc.name, fixed[sc.name], "fixed"))
        return pairs
    pairs = [(sc.name, f"{sc.name}@2", "fixed")]
    if sc.fixed_of:
        pairs.append((sc.name, sc.fixed_of, "regressed"))
    return pairs


def compare_cell(root: Path, pairs: list[tuple[str, str, str]]) -> tuple[int, str, list[str]]:
    """Score a scenario's compare pairs: (how many right, cell text, lines about misses)."""
    right, misses = 0, []
    for before, after, expected in pairs:
        got = compare_dirs(root / before, root / after)
        if got.result.value == expected:
            right += 1
        else:
            misses.append(f"compare {before} {after}: {got.result.value} ({got.summary})")
    return right, f"{'ok' if right == len(pairs) else 'WRONG'} {right}/{len(pairs)}", misses


def record_one(sc: ZooScenario, root: Path, rerecord: bool, binary: Path, run: str = "") -> Path:
    out = root / f"{sc.name}{run}"
    if out.exists() and not rerecord and any(out.glob("*.json")):
        return out
    if out.exists():
        shutil.rmtree(out)
    record(sc.name, out, snapshots=15, interval=1.0, binary=binary)
    return out


def record_reruns(
    scenarios: list[ZooScenario], root: Path, args: argparse.Namespace, binary: Path
) -> None:
    """Record the second runs the compare column pairs with (every scenario has one)."""
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda s: record_one(s, root, args.rerecord, binary, "@2"), scenarios))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sessions", default=str(Path.home() / ".cache/leakhunter/zoo-sessions"))
    ap.add_argument("--jobs", type=int, default=3)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--rerecord", action="store_true")
    ap.add_argument("--json", help="write the scorecard as JSON here")
    ap.add_argument(
        "--snapshots",
        type=int,
        default=15,
        help="judge only the first N snapshots of each 15-snapshot session (e.g. 10); "
        "the compare column needs whole sessions and is scored at 15 only",
    )
    args = ap.parse_args()
    scenarios = [s for s in load_manifest() if not args.only or s.name in args.only]
    root = Path(args.sessions)
    root.mkdir(parents=True, exist_ok=True)
    binary = build_zoo()
    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        paths = dict(
            zip(
                [s.name for s in scenarios],
                pool.map(lambda s: record_one(s, root, args.rerecord, binary), scenarios),
                strict=True,
            )
        )
    everything = {s.name: s for s in load_manifest()}
    partners = [everything[s.fixed_of] for s in scenarios if s.fixed_of] + [
        f for f in everything.values() if f.fixed_of in {s.name for s in scenarios}
    ]
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda s: record_one(s, root, args.rerecord, binary), partners))
    record_reruns(scenarios, root, args, binary)
    fixed = {s.fixed_of: s.name for s in everything.values() if s.fixed_of}
    print(f"sessions ready in {time.monotonic() - t0:.0f} s under {root}\n", file=sys.stderr)
    names = ["leakhunter", "by-hand", "leakprof", "gleak"]
    compare_right = compare_total = rules_right = n_rules = 0
    totals = {n: np.zeros(4, dtype=int) for n in names}  # recall, culprit, alarms, right
    n_leaks = sum(1 for s in scenarios if s.verdict == "leak")
    rows = []
    print(
        f"{'scenario':34} {'expect':8} " + " ".join(f"{n:>24}" for n in names) + f"{'compare':>12}"
    )
    for sc in scenarios:
        snaps = list(load_session(paths[sc.name]).snapshots)[: args.snapshots]
        mine, churn, info = ours(paths[sc.name], snaps)
        calls = {
            "leakhunter": mine,
            "by-hand": by_hand(snaps),
            "leakprof": leakprof(snaps),
            "gleak": gleak(snaps),
        }
        cells = []
        for n in names:
            right, cul, alarm = score(sc, calls[n], churn if n == "leakhunter" else None)
            t = totals[n]
            if sc.verdict == "leak":
                t[0] += right
                t[1] += cul
            t[2] += alarm
            t[3] += right
            mark = (
                ("ok" if right else "MISS")
                if sc.verdict == "leak"
                else ("FALSE ALARM" if alarm else "ok")
            )
            if sc.verdict == "leak" and right:
                mark += "+culprit" if cul else " wrong-culprit"
            cells.append(f"{mark:>24}")
        if sc.verdict == "leak" and sc.rule:
            n_rules += 1
            rules_right += mine.verdict == "leak" and mine.rule == sc.rule
            if mine.verdict == "leak" and mine.rule != sc.rule:
                print(f"    rule: {mine.rule} (expected {sc.rule})")
        pairs = compare_pairs(sc, fixed) if args.snapshots >= 15 else []
        c_right, c_cell, c_misses = compare_cell(root, pairs) if pairs else (0, "-", [])
        compare_right += c_right
        compare_total += len(pairs)
        print(f"{sc.name:34} {sc.verdict:8} " + " ".join(cells) + f"{c_cell:>12}")
        for line in c_misses:
            print(f"    {line}")
        if not score(sc, mine, churn)[0] or (sc.verdict == "leak" and not score(sc, mine)[1]):
            print(f"    leakhunter: {info['summary']}")
            for line in info["findings"][:4]:  # type: ignore[index]
                print(f"      {line}")
            print(f"      expected culprit: {', '.join(sc.culprits) or '-'}")
        rows.append(
            {
                "scenario": sc.name,
                "expected": sc.verdict,
                "calls": {n: calls[n].__dict__ for n in names},
                "compare": {"right": c_right, "pairs": len(pairs)},
            }
        )
    print()
    print(f"{'':43}" + " ".join(f"{n:>24}" for n in names))
    for label, i, denom in (
        ("recall", 0, n_leaks),
        ("culprit", 1, n_leaks),
        ("false alarms", 2, None),
        ("all right", 3, len(scenarios)),
    ):
        cells = [f"{totals[n][i]}/{denom}" if denom else f"{totals[n][i]}" for n in names]
        print(f"{label:43}" + " ".join(f"{c:>24}" for c in cells))
    print(f"{'rule of the first leak finding':43}{f'{rules_right}/{n_rules}':>24}")
    print(f"{'compare right':43}{f'{compare_right}/{compare_total}':>24}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "rows": rows,
                    "totals": {
                        n: dict(
                            zip(
                                ["recall", "culprit", "false_alarms", "right"],
                                totals[n].tolist(),
                                strict=True,
                            )
                        )
                        for n in names
                    },
                    "compare": {"right": compare_right, "pairs": compare_total},
                    "rules": {"right": rules_right, "leaks": n_rules},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
