"""Hand-built verdicts and report data for renderer tests: every field filled, nothing random.

Recorded sessions cover real shapes; these cover what they lack (a rule with
explanation and fix, a known time-to-OOM, goroutines waiting for minutes and
marked leaked by the runtime, a churn finding, a finding with no app frame).
"""

from __future__ import annotations

import random
import shutil
from functools import cache
from pathlib import Path

from leakhunter.analyze.analyzer import RunEdges
from leakhunter.analyze.verdict import (
    Finding,
    FindingKind,
    FindingVerdict,
    GoroutineFacts,
    Growth,
    Projection,
    RuleMatch,
    Series,
    Verdict,
    VerdictValue,
)
from leakhunter.collect.session import SessionInfo, load_session
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.formats.pprof import encode
from leakhunter.model.goroutine import Frame, GoroutineGroup
from leakhunter.model.profile import (
    Function,
    Line,
    Location,
    Profile,
    Sample,
    ValueType,
    make_profile,
)
from leakhunter.pipeline import judge_dir
from leakhunter.report.data import GoroutineGroups, GroupRow, ReportData, SessionFacts, gather

SESSIONS = Path(__file__).parent / "data" / "sessions"
SESSION_NAMES = tuple(sorted(p.name for p in SESSIONS.iterdir() if p.is_dir()))

GOROOT = "/usr/local/go/src"
APP = "/src/shop"
MOD = "/root/go/pkg/mod/github.com/redis/go-redis/v9@v9.5.1"

GOPARK = Frame("runtime.gopark", f"{GOROOT}/runtime/proc.go", 424)
CHANRECV = Frame("runtime.chanrecv1", f"{GOROOT}/runtime/chan.go", 442)
MAKEMAP = Frame("runtime.mapassign_faststr", f"{GOROOT}/runtime/map_faststr.go", 203)
CACHE = Frame("example.com/shop/cache.(*Cache).Put", f"{APP}/cache/cache.go", 41)
HANDLER = Frame("example.com/shop/api.(*Server).handleOrder", f"{APP}/api/orders.go", 88)
SERVE = Frame("net/http.HandlerFunc.ServeHTTP", f"{GOROOT}/net/http/server.go", 2171)
WORKER = Frame("example.com/shop/jobs.(*Dispatcher).wait", f"{APP}/jobs/dispatch.go", 57)
SPAWN = Frame("example.com/shop/jobs.(*Dispatcher).Start", f"{APP}/jobs/dispatch.go", 30)
REDIS = Frame("github.com/redis/go-redis/v9.(*baseClient).process", f"{MOD}/redis.go", 380)
GENERIC = Frame(
    "example.com/shop/pool.(*Pool[go.shape.struct { example.com/shop/pool.buf []uint8 }]).Get",
    f"{APP}/pool/pool.go",
    19,
)


def _series(label: str, unit: str, start: float, slope: float, n: int = 12) -> Series:
    t = tuple(float(i * 15) for i in range(n))
    wobble = (0.0, 0.02, -0.01, 0.03, 0.0, -0.02, 0.01, 0.02, -0.01, 0.0, 0.01, 0.0)
    values = tuple(
        start + slope * x + abs(start + slope * x) * wobble[i % 12] for i, x in enumerate(t)
    )
    return Series(label, unit, t, values, fit_slope=slope, fit_start=start)


def sample_verdict() -> Verdict:
    """A leak verdict with one finding of every kind and every optional field set."""
    heap = Finding(
        id="heap-0123456789",
        kind=FindingKind.HEAP,
        verdict=FindingVerdict.LEAK,
        confidence=0.97,
        culprit=CACHE,
        stack=(MAKEMAP, CACHE, HANDLER, SERVE),
        growth=Growth("bytes", 52_428_800.0, 220_200_960.0, 3_355_443_200.0),
        evidence=(
            "inuse memory allocated under example.com/shop/cache.(*Cache).Put grew 50MiB -> 210MiB",
            "the map never shrinks: 0 deletes seen",
        ),
        rule=RuleMatch(
            id="GO-MAP-UNBOUNDED",
            title="Map used as a cache without eviction",
            fix="Bound the cache (an LRU with a size limit) or delete entries when done.",
            explanation="Entries are added per request and never removed, so the map grows "
            "with traffic until the process runs out of memory.",
            matched=("runtime.mapassign*", "app frame under a handler"),
            references=("https://go.dev/blog/maps",),
        ),
        series=(
            _series(
                "inuse bytes at example.com/shop/cache.(*Cache).Put", "bytes", 52_428_800, 932_067.5
            ),
        ),
        app_frames=(CACHE.function, HANDLER.function),
    )
    goroutines = Finding(
        id="goroutine-abcdef0123",
        kind=FindingKind.GOROUTINE,
        verdict=FindingVerdict.SUSPECT,
        confidence=0.71,
        culprit=WORKER,
        stack=(GOPARK, CHANRECV, WORKER),
        growth=Growth("goroutines", 40.0, 940.0, 18_000.0),
        evidence=("goroutines blocked in chan receive at dispatch.go:57 grew 40 -> 940",),
        series=(
            _series(
                "goroutines at example.com/shop/jobs.(*Dispatcher).wait", "goroutines", 40, 5.0
            ),
        ),
        goroutines=GoroutineFacts(
            state="chan receive",
            state_class="channel",
            count_start=40,
            count_end=940,
            wait_minutes_max=12,
            leaked=3,
            created_by=SPAWN,
        ),
    )
    library = Finding(
        id="heap-fedcba9876",
        kind=FindingKind.HEAP,
        verdict=FindingVerdict.LEAK,
        confidence=0.8,
        culprit=None,
        stack=(REDIS, GENERIC),
        growth=Growth("bytes", 1_048_576.0, 9_437_184.0, 201_326_592.0),
        evidence=("no application frame on this allocation stack; culprit is library code",),
    )
    churn = Finding(
        id="churn-0000000001",
        kind=FindingKind.CHURN,
        verdict=FindingVerdict.CHURN,
        confidence=0.9,
        culprit=HANDLER,
        stack=(HANDLER, SERVE),
        growth=Growth("bytes", 0.0, 7_700_000_000.0, 1.5e11),
        evidence=("allocates 150GiB/h while the live heap stays flat",),
    )
    return Verdict(
        target="http://shop.internal:6060",
        snapshots=12,
        window_seconds=165.0,
        verdict=VerdictValue.LEAK,
        findings=(heap, goroutines, library, churn),
        projection=Projection(
            limit_bytes=2 << 30,
            time_to_oom_seconds=5400.0,
            limit_source="GOMEMLIMIT",
            footprint_bytes=230_000_000,
            growth_bytes_per_second=350_000.0,
        ),
        summary="leak in example.com/shop/cache.(*Cache).Put: 3.13GiB/h",
        notes=("the target restarted 1 time(s); judging the last run (12 of 20 snapshots)",),
        heap=_series("live heap (HeapAlloc after GC)", "bytes", 60_000_000, 1_000_000),
        goroutines=_series("goroutines (total)", "goroutines", 60, 6),
        restarts=1,
    )


def sample_groups() -> GoroutineGroups:
    """Goroutine groups as a full dump gives them: waits in minutes, leaked marks."""
    rows = (
        GroupRow(
            GoroutineGroup(
                count=940,
                state="chan receive",
                frames=(WORKER, SPAWN),
                created_by=SPAWN,
                wait_minutes_min=1,
                wait_minutes_max=12,
                leaked=3,
            ),
            40,
        ),
        GroupRow(GoroutineGroup(count=64, state="select", frames=(REDIS,), created_by=REDIS), 64),
        GroupRow(GoroutineGroup(count=1, state="running", frames=(SERVE,)), None),
        GroupRow(
            GoroutineGroup(count=2, state="IO wait", frames=(SERVE, HANDLER), wait_minutes_max=3), 2
        ),
    )
    return GoroutineGroups(
        format="debug=2", seq=11, first_seq=0, total=1007, groups=rows, more_groups=5
    )


def sample_report() -> ReportData:
    """Report data of the sample verdict, with goroutine groups and no flame graphs."""
    return ReportData(
        sample_verdict(),
        SessionFacts("/sessions/shop", "2026-11-23T10:00:00Z", "0.1.0", 8, 19),
        goroutines=sample_groups(),
    )


@cache
def session_report(name: str) -> ReportData:
    """Analyse a committed recorded session and gather every view (cached per test run)."""
    judged = judge_dir(SESSIONS / name)
    return gather(judged.verdict, judged.edges, judged.session)


def edges_of(path: Path) -> tuple[RunEdges, SessionInfo]:
    """Return a session folder's first and last snapshot per kind (every snapshot one run)."""
    s = load_session(path)
    first: dict[str, SnapshotView] = {}
    last: dict[str, SnapshotView] = {}
    for snap in s.snapshots:
        for kind in snap.record.files:
            first.setdefault(kind, snap)
            last[kind] = snap
    seqs = [x.seq for x in s.snapshots]
    edges = RunEdges(first, last, min(seqs, default=None), max(seqs, default=None))
    return edges, SessionInfo.of(path, s.manifest)


def big_heap_profile(n_stacks: int = 20_000, seed: int = 1) -> Profile:
    """A Go-shaped heap profile with many distinct stacks sharing prefixes (a big service).

    Stacks walk down a random call tree (handlers fan out into libraries), so
    prefixes repeat as in real profiles; values are heavy-tailed.
    """
    rng = random.Random(seed)
    names = [
        f"github.com/acme/svc/pkg{i % 97}.(*T{i % 13}).Method{i}" if i % 3 else f"runtime.f{i}"
        for i in range(6000)
    ]
    funcs = tuple(
        Function(i + 1, n, n, f"/src/svc/pkg{i % 97}/file{i % 7}.go") for i, n in enumerate(names)
    )
    locs = tuple(Location(i + 1, lines=(Line(i + 1, 10 + i % 300),)) for i in range(len(names)))
    kids: dict[int, list[int]] = {}
    samples = []
    for _ in range(n_stacks):
        node, path = 0, []
        for _depth in range(rng.randint(6, 48)):
            options = kids.setdefault(node, [])
            if not options or (len(options) < 6 and rng.random() < 0.3):
                options.append(rng.randrange(1, len(names)))
            node = rng.choice(options)
            path.append(node)
        size = int(rng.paretovariate(1.2) * 4096)
        samples.append(Sample(tuple(reversed(path)), (size // 64, size, size // 64, size)))
    types = (
        ValueType("alloc_objects", "count"),
        ValueType("alloc_space", "bytes"),
        ValueType("inuse_objects", "count"),
        ValueType("inuse_space", "bytes"),
    )
    return make_profile(
        types,
        samples,
        locations=locs,
        functions=funcs,
        period_type=ValueType("space", "bytes"),
        period=512 * 1024,
    )


def big_session(tmp: Path, n_stacks: int = 20_000) -> Path:
    """A copy of a recorded leak session whose last heap profile is big_heap_profile()."""
    dst = tmp / "big-session"
    shutil.copytree(SESSIONS / "grpc-stream-not-closed", dst)
    last = sorted(dst.glob("*.heap.pb.gz"))[-1]
    last.write_bytes(encode(big_heap_profile(n_stacks)))
    return dst
