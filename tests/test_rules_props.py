"""Properties: no rule crashes on generated findings, matching is stable, parsing never raises."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakhunter.analyze.frames import AppMatcher
from leakhunter.analyze.verdict import (
    Finding,
    FindingKind,
    FindingVerdict,
    GoroutineFacts,
    Growth,
    Projection,
    Series,
    Verdict,
    VerdictValue,
)
from leakhunter.model.goroutine import Frame
from leakhunter.rules import SessionFacts, apply_rules, best_match, builtin_rules, parse_rules
from leakhunter.rules.facts import GroupFacts, SiteFacts

RULES = builtin_rules()

FUNCTIONS = [
    "runtime.gopark",
    "runtime.selectgo",
    "runtime.chanrecv1",
    "runtime.chanrecv2",
    "runtime.chansend1",
    "runtime.block",
    "runtime.malg",
    "runtime.growslice",
    "sync.(*WaitGroup).Wait",
    "sync.(*Mutex).Lock",
    "sync.(*Pool).Get",
    "internal/poll.runtime_pollWait",
    "net/http.(*persistConn).readLoop",
    "net/http.(*persistConn).writeLoop",
    "net/http.(*conn).serve",
    "database/sql.(*DB).connectionOpener",
    "database/sql.(*Rows).awaitDone",
    "context.WithTimeout",
    "time.After",
    "time.NewTicker",
    "bytes.growSlice",
    "io.ReadAll",
    "google.golang.org/grpc.newClientStreamWithParams.func4",
    "github.com/gin-gonic/gin.(*Context).Next",
    "github.com/IBM/sarama.(*asyncProducer).returnSuccesses",
    "github.com/apache/thrift/lib/go/thrift.NewTMemoryBufferLen",
    "main.handle",
    "main.(*Cache).Put",
    "github.com/acme/svc/queue.(*Queue).Enqueue",
    "pkg.F[go.shape.int]",
    "",
]
FILES = [
    "",
    "/usr/local/go/src/runtime/proc.go",
    "/root/go/pkg/mod/github.com/!i!b!m/sarama@v1.61.1/x.go",
    "/app/main.go",
    "main.go",
]
STATES = ["", "chan receive", "chan send", "select", "select (no cases)", "IO wait", "sleep"]
STATES += ["sync.Mutex.Lock", "semacquire", "running", "syscall", "chan send (leaked)", "??"]

frames = st.builds(
    Frame,
    st.one_of(st.sampled_from(FUNCTIONS), st.text(max_size=40)),
    st.sampled_from(FILES),
    st.integers(0, 10_000),
)
stacks = st.lists(frames, max_size=25).map(tuple)
floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
series = st.lists(floats, max_size=16).flatmap(
    lambda ys: st.builds(
        Series,
        st.text(max_size=20),
        st.sampled_from(["bytes", "goroutines"]),
        st.one_of(st.just(tuple(float(i) for i in range(len(ys)))), st.just(())),
        st.just(tuple(ys)),
    )
)
goroutine_facts = st.builds(
    GoroutineFacts,
    state=st.one_of(st.sampled_from(STATES), st.text(max_size=20)),
    state_class=st.sampled_from(["channel", "select", "sync", "io", "other", "??"]),
    count_start=st.integers(0, 10**6),
    count_end=st.integers(0, 10**6),
    wait_minutes_max=st.none() | st.integers(0, 10**4),
    leaked=st.integers(0, 10**6),
    created_by=st.none() | frames,
    state_inferred=st.booleans(),
    stack=stacks,
)
findings = st.builds(
    Finding,
    id=st.text(max_size=8),
    kind=st.sampled_from(FindingKind),
    verdict=st.sampled_from(FindingVerdict),
    confidence=st.floats(0, 1),
    culprit=st.none() | frames,
    stack=stacks,
    growth=st.builds(Growth, st.sampled_from(["bytes", "goroutines"]), floats, floats, floats),
    evidence=st.just(()),
    series=st.lists(series, max_size=3).map(tuple),
    goroutines=st.none() | goroutine_facts,
    linked=st.lists(st.sampled_from(["heap", "goroutine", "churn", "x"]), max_size=3).map(tuple),
)
site = st.builds(
    SiteFacts, floats, floats, st.none() | floats, st.none() | floats, st.none() | floats
)
sessions = st.builds(
    SessionFacts,
    packages=st.frozensets(st.sampled_from(FUNCTIONS) | st.text(max_size=20), max_size=8),
    libraries=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    groups=st.lists(
        st.builds(
            GroupFacts,
            stacks,
            st.sampled_from(STATES),
            st.sampled_from(["channel", "select", "io", "other"]),
            st.integers(0, 10**5),
        ),
        max_size=5,
    ).map(tuple),
    stacks=st.lists(stacks, max_size=4).map(tuple),
    leak_profile=st.booleans(),
    sites=st.dictionaries(st.sampled_from(FUNCTIONS) | st.text(max_size=10), site, max_size=3),
    matcher=st.builds(
        AppMatcher,
        st.none() | st.sampled_from(["main.", "github.com/acme/"]),
        st.none() | st.just("/usr/local/go/"),
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(findings, sessions)
def test_no_rule_crashes_and_the_winner_is_deterministic(f: Finding, s: SessionFacts) -> None:
    m = best_match(f, RULES, s)
    again = best_match(f, list(reversed(RULES)), s)
    assert (m and (m.rule.id, m.block)) == (again and (again.rule.id, again.block))
    if m is not None:
        assert m.evidence and all(isinstance(e, str) and e for e in m.evidence)
        assert m.specificity == m.block.specificity() > 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(findings, max_size=4), sessions)
def test_apply_rules_keeps_findings_and_bounds_confidence(
    fs: list[Finding], s: SessionFacts
) -> None:
    v = Verdict("t", 3, 2.0, VerdictValue.LEAK, tuple(fs), Projection(None, None))
    out = apply_rules(v, RULES, s)
    assert [f.id for f in out.findings] == [f.id for f in fs]
    for f in out.findings:
        assert 0.0 <= f.confidence <= 1.0 and not math.isnan(f.confidence)


GOOD = """[[rule]]
id = "GO-A-B"
title = "t"
explanation = "e"
fix = "f"
[[rule.when]]
kind = ["heap"]
stack = ['^main\\.']
session = { stack = ['x'], min_count = 2 }
"""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parsing_arbitrary_text_never_raises(text: str) -> None:
    rules, problems = parse_rules(text, "f.toml")
    assert all(p.startswith("f.toml:") for p in problems)
    assert bool(rules) or bool(problems)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(GOOD) - 1), st.integers(0, 30), st.text(max_size=6))
def test_parsing_mutated_rule_files_never_raises(at: int, cut: int, insert: str) -> None:
    text = GOOD[:at] + insert + GOOD[at + cut :]
    rules, problems = parse_rules(text, "f.toml")
    assert all(p.split(":")[1].isdigit() for p in problems)
