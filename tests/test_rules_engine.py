"""Rule engine on hand-built findings: each condition, specificity, ties, views, adjustments."""

from __future__ import annotations

import re

import pytest

from leakhunter.analyze.frames import AppMatcher, module_of
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
from leakhunter.rules import Conditions, Rule, SessionFacts, SessionGroup, apply_rules, best_match
from leakhunter.rules.engine import match_block
from leakhunter.rules.facts import (
    GroupFacts,
    SiteFacts,
    finding_facts,
    growth_shape,
    infer_state,
    leaf_frame,
)

GOROOT = "/usr/local/go/"
M = AppMatcher(goroot=GOROOT)


def fr(function: str, file: str = "", line: int = 1) -> Frame:
    if not file:
        pkg = function.split(".", 1)[0]
        file = f"{GOROOT}src/{pkg}/x.go" if "." not in pkg.split("/")[0] else f"/app/{pkg}.go"
        if function.startswith("main."):
            file = "/app/main.go"
    return Frame(function, file, line)


CHAN_STACK = (
    fr("runtime.gopark"),
    fr("runtime.chanrecv"),
    fr("runtime.chanrecv1"),
    fr("main.worker"),
)
HEAP_STACK = (fr("bytes.Clone"), fr("main.cacheResponse"), fr("main.handle"))


def series(values: list[float], unit: str = "goroutines") -> Series:
    return Series("s", unit, tuple(float(i) for i in range(len(values))), tuple(values))


def goroutine_finding(
    stack: tuple[Frame, ...] = CHAN_STACK,
    state: str = "chan receive",
    cls: str = "channel",
    leaked: int = 0,
    created_by: Frame | None = None,
    values: list[float] | None = None,
) -> Finding:
    return Finding(
        id="g",
        kind=FindingKind.GOROUTINE,
        verdict=FindingVerdict.LEAK,
        confidence=0.9,
        culprit=next((f for f in stack if M.is_app(f)), None),
        stack=stack,
        growth=Growth("goroutines", 1, 100, 3600),
        evidence=(),
        series=(series(values or [1, 10, 20, 30, 40, 50, 60, 70]),),
        goroutines=GoroutineFacts(state, cls, 1, 100, leaked=leaked, created_by=created_by),
        linked=("goroutine",),
    )


def heap_finding(stack: tuple[Frame, ...] = HEAP_STACK, kind: str = "heap") -> Finding:
    return Finding(
        id="h",
        kind=FindingKind(kind),
        verdict=FindingVerdict.LEAK if kind == "heap" else FindingVerdict.CHURN,
        confidence=0.8,
        culprit=next((f for f in stack if M.is_app(f)), None),
        stack=stack,
        growth=Growth("bytes", 0, 1e7, 1e9),
        evidence=(),
        series=(series([0, 1e6, 2e6, 3e6, 4e6, 5e6, 6e6], "bytes"),),
        linked=(kind,),
    )


def rule(rid: str, *when: Conditions, confidence: float = 0.0, builtin: bool = True) -> Rule:
    return Rule(
        rid, rid.title(), "explained", "fixed", when, confidence=confidence, builtin=builtin
    )


def cond(**kw: object) -> Conditions:
    for key in ("stack", "not_stack"):
        if key in kw:
            kw[key] = tuple(re.compile(p) for p in kw[key])  # type: ignore[attr-defined]
    for key in ("leaf", "culprit", "created_by", "created_in", "state"):
        if key in kw:
            kw[key] = re.compile(str(kw[key]))
    return Conditions(**kw)  # type: ignore[arg-type]


def session(**kw: object) -> SessionFacts:
    kw.setdefault("matcher", M)
    return SessionFacts(**kw)  # type: ignore[arg-type]


def check(c: Conditions, f: Finding, s: SessionFacts | None = None) -> tuple[str, ...] | None:
    s = s or session()
    return match_block(c, finding_facts(f, s), s)


# -- conditions -----------------------------------------------------------------------


def test_kind_matches_linked_evidence_too() -> None:
    linked = heap_finding()
    linked = Finding(**{**_fields(linked), "goroutines": goroutine_finding().goroutines})
    assert check(cond(kind=("goroutine",)), linked) is not None
    assert check(cond(kind=("goroutine",)), heap_finding()) is None
    assert check(cond(kind=("churn",)), heap_finding(kind="churn")) == ("churn evidence",)


def _fields(f: Finding) -> dict[str, object]:
    return {name: getattr(f, name) for name in Finding.__slots__}


def test_stack_needs_every_regex_and_not_stack_none() -> None:
    f = goroutine_finding()
    assert check(cond(stack=(r"^runtime\.chanrecv1$", r"^main\.worker$")), f) is not None
    assert check(cond(stack=(r"^runtime\.chanrecv1$", r"^main\.nope$")), f) is None
    assert check(cond(not_stack=(r"^main\.worker$",)), f) is None
    ev = check(cond(not_stack=(r"^grpc\.",)), f)
    assert ev == ("no frame matches /^grpc\\./",)


def test_leaf_skips_runtime_and_internal_frames() -> None:
    stack = (fr("runtime.gopark"), fr("internal/poll.runtime_pollWait"), fr("net.(*conn).Read"))
    assert leaf_frame(stack) == stack[2]
    assert check(cond(leaf=r"^net\.\(\*conn\)\.Read$"), goroutine_finding(stack=stack))
    assert check(cond(leaf_origin=("app",)), goroutine_finding(stack=stack)) is None
    assert check(cond(leaf_origin=("stdlib",)), goroutine_finding(stack=stack)) is not None


def test_frame_conditions_hold_on_one_stack_of_a_linked_finding() -> None:
    # heap stack: app leaf, no select; goroutine stack: select, stdlib leaf
    g_stack = (fr("runtime.gopark"), fr("runtime.selectgo"), fr("database/sql.(*DB).opener"))
    heap_stack = (fr("main.open"), fr("main.handle"))
    linked = Finding(
        **{
            **_fields(heap_finding(heap_stack)),
            "goroutines": GoroutineFacts("select", "select", 1, 9, stack=g_stack),
            "linked": ("heap", "goroutine"),
        }
    )
    ff = finding_facts(linked, session())
    assert ff.views == (g_stack, heap_stack)
    assert ff.leaf_origins == ("stdlib", "app")
    both = cond(stack=(r"^runtime\.selectgo$",), leaf_origin=("app",))
    assert check(both, linked) is None
    assert check(cond(stack=(r"^runtime\.selectgo$",)), linked) is not None
    assert check(cond(leaf_origin=("app",)), linked) is not None
    assert check(cond(stack=(r"^main\.open$",), leaf_origin=("app",)), linked) is not None


def test_culprit_and_created_by() -> None:
    creator = fr("main.handle")
    f = goroutine_finding(created_by=creator)
    assert check(cond(culprit=r"^main\.worker$"), f)
    assert check(cond(created_by=r"^main\.handle$"), f)
    assert check(cond(created_by=r"^main\.other$"), f) is None
    assert check(cond(created_by=r"."), goroutine_finding()) is None


def test_created_in_looks_below_the_creator_on_session_stacks() -> None:
    creator = fr("main.export")
    f = goroutine_finding(created_by=creator)
    chain = (fr("main.export"), fr("github.com/gin-gonic/gin.(*Context).Next"))
    s = session(stacks=(chain,))
    ev = check(cond(created_in=r"gin\.\(\*Context\)\.Next$"), f, s)
    assert ev and "runs under github.com/gin-gonic/gin.(*Context).Next" in ev[0]
    assert check(cond(created_in=r"gin\.\(\*Context\)\.Next$"), f, session()) is None
    # frames above the creator (its callees) do not count
    s2 = session(stacks=((fr("github.com/gin-gonic/gin.(*Context).Next"), fr("main.export")),))
    assert check(cond(created_in=r"gin\.\(\*Context\)\.Next$"), f, s2) is None


def test_wait_state_and_leaked() -> None:
    f = goroutine_finding()
    assert check(cond(wait=("channel", "select")), f)
    assert check(cond(wait=("sync",)), f) is None
    assert check(cond(state=r"^chan receive$"), f)
    assert check(cond(wait=("channel",)), heap_finding()) is None
    # leaked: True when marked, False only when the profile was collected, else unknown
    assert check(cond(leaked=True), goroutine_finding(leaked=3))
    assert check(cond(leaked=False), goroutine_finding(), session(leak_profile=True))
    assert check(cond(leaked=False), goroutine_finding(), session(leak_profile=False)) is None
    assert check(cond(leaked=True), goroutine_finding(), session(leak_profile=True)) is None


def test_state_from_a_dump_replaces_an_inferred_one() -> None:
    from leakhunter.rules.facts import DumpView, wait_key

    g = GoroutineFacts("", "other", 1, 9, state_inferred=True)
    f = Finding(**{**_fields(goroutine_finding()), "goroutines": g})
    dump = DumpView("chan receive", fr("main.spawn"))
    s = session(dumps={wait_key(CHAN_STACK): dump})
    ff = finding_facts(f, s)
    assert (ff.state, ff.wait, ff.created_by) == ("chan receive", "channel", dump.created_by)


def test_shape() -> None:
    assert growth_shape(series([0, 10, 20, 30, 40, 50, 60, 70])) == "linear"
    assert growth_shape(series([0, 1, 2, 3, 10, 30, 60, 100])) == "accelerating"
    assert growth_shape(series([0, 40, 70, 90, 95, 97, 98, 99])) == "decelerating"
    assert growth_shape(series([0, 0, 0, 5, 5, 5, 5, 10])) == "steps"
    assert growth_shape(series([5, 5, 5, 5])) == "flat"
    assert growth_shape(series([5, 4, 3, 2, 1])) == "flat"
    assert growth_shape(series([1, float("nan"), 2])) == "flat"
    assert growth_shape(None) == "flat"
    assert check(cond(shape=("linear",)), goroutine_finding())
    assert check(cond(shape=("steps",)), goroutine_finding()) is None


def test_alloc_objects_and_object_size_from_the_site() -> None:
    f = heap_finding()
    retained = session(sites={"main.cacheResponse": SiteFacts(0, 8e6, 9e6, 0, 2000)})
    churned = session(sites={"main.cacheResponse": SiteFacts(1e6, 2e6, 5e8, 100, 110)})
    assert check(cond(alloc="retained"), f, retained)
    assert check(cond(alloc="churn"), f, retained) is None
    assert check(cond(alloc="churn"), f, churned)
    assert check(cond(objects="growing"), f, retained)
    assert check(cond(objects="flat"), f, churned)
    assert check(cond(min_object_bytes=3000), f, retained)  # 8e6 / 2000 = 4000 B
    assert check(cond(min_object_bytes=4096), f, retained) is None
    big = session(sites={"main.cacheResponse": SiteFacts(0, 8e6, 9e6, 0, 30)})
    assert check(cond(min_object_bytes=65536), f, big)
    assert check(cond(alloc="retained"), f) is None  # no site figures: unknown
    # buffers that keep doubling: 32 live objects from 8 KiB to 1 MiB each
    swelling = session(sites={"main.cacheResponse": SiteFacts(32 * 8192, 32 * 2**20, 4e7, 32, 32)})
    assert check(cond(object_size="growing"), f, swelling)
    assert check(cond(object_size="flat"), f, swelling) is None
    cache = session(sites={"main.cacheResponse": SiteFacts(1e6, 8e6, 9e6, 250, 2000)})
    assert check(cond(object_size="flat"), f, cache)  # 4 kB per entry throughout
    assert check(cond(object_size="growing"), f, churned)  # 10 kB -> 18 kB per object
    assert check(cond(object_size="growing"), f, retained) is None  # no objects at the start
    assert check(cond(alloc="churn"), heap_finding(kind="churn"))


def test_library_matches_module_and_package_paths() -> None:
    s = session(packages=frozenset({"google.golang.org/grpc/internal/transport", "database/sql"}))
    f = goroutine_finding()
    assert check(cond(library=("google.golang.org/grpc",)), f, s)
    assert check(cond(library=("database/sql",)), f, s)
    assert check(cond(library=("google.golang.org/grp",)), f, s) is None
    assert check(cond(library=("github.com/IBM/sarama", "database/sql")), f, s)


def test_session_group_condition() -> None:
    returner = GroupFacts(
        (fr("runtime.chansend1"), fr("github.com/IBM/sarama.(*asyncProducer).returnSuccesses")),
        "chan send",
        "channel",
        1,
    )
    s = session(groups=(returner,))
    stack = (re.compile(r"returnSuccesses$"), re.compile(r"^runtime\.chansend"))
    f = goroutine_finding()
    assert check(Conditions(session=SessionGroup(stack, ("channel",))), f, s)
    assert check(Conditions(session=SessionGroup(stack, ("select",))), f, s) is None
    assert check(Conditions(session=SessionGroup(stack, (), 5)), f, s) is None
    assert check(Conditions(session=SessionGroup((re.compile("nope"),))), f, s) is None


# -- choosing -------------------------------------------------------------------------


def test_most_specific_rule_wins_and_ties_are_deterministic() -> None:
    f = goroutine_finding()
    generic = rule("GO-GENERIC", cond(kind=("goroutine",)))
    waits = rule("GO-WAIT", cond(kind=("goroutine",), wait=("channel",)))
    frames = rule("GO-FRAMES", cond(kind=("goroutine",), stack=(r"chanrecv1$",)))
    assert best_match(f, [generic, waits, frames]).rule.id == "GO-FRAMES"  # type: ignore[union-attr]
    # equal specificity and conditions: the smaller id wins, whatever the order
    a = rule("GO-A", cond(stack=(r"chanrecv1$",)))
    b = rule("GO-B", cond(stack=(r"worker$",)))
    assert best_match(f, [b, a]).rule.id == best_match(f, [a, b]).rule.id == "GO-A"  # type: ignore[union-attr]
    # equal specificity: more conditions win (kind+shape+wait = 4 vs state 3... same weight 4)
    many = rule("GO-Z", cond(kind=("goroutine",), shape=("linear",), wait=("channel",)))
    one = rule("GO-Y", cond(stack=(r"worker$",)))
    assert many.when[0].specificity() == one.when[0].specificity() == 4
    assert best_match(f, [one, many]).rule.id == "GO-Z"  # type: ignore[union-attr]
    # a user rule wins a full tie over a builtin one
    user = rule("GO-B", cond(stack=(r"worker$",)), builtin=False)
    assert best_match(f, [a, user]).rule.builtin is False  # type: ignore[union-attr]


def test_specificity_weights() -> None:
    c = cond(kind=("goroutine",), stack=("a", "b"), wait=("channel",), library=("x",))
    assert c.specificity() == 1 + 4 * 2 + 2 + 3
    assert c.names() == ("kind", "wait", "library", "stack")
    assert rule("GO-G", cond(kind=("heap",))).generic
    assert not rule("GO-S", cond(stack=("x",))).generic


def test_best_block_of_a_rule_is_reported() -> None:
    f = goroutine_finding(leaked=2)
    r = rule(
        "GO-R",
        cond(stack=(r"chanrecv1$",)),
        cond(stack=(r"chanrecv1$",), leaked=True),
    )
    m = best_match(f, [r], session(leak_profile=True))
    assert m is not None and m.block is r.when[1] and m.specificity == 6
    assert any("goroutineleak" in e for e in m.evidence)


def test_no_rule_no_match() -> None:
    assert best_match(goroutine_finding(), []) is None
    assert best_match(goroutine_finding(), [rule("GO-H", cond(kind=("heap",)))]) is None


def _verdict(*findings: Finding) -> Verdict:
    return Verdict("t", 10, 9.0, VerdictValue.LEAK, findings, Projection(None, None))


def test_apply_rules_fills_rule_adjusts_confidence_keeps_order() -> None:
    up = rule("GO-UP", cond(kind=("goroutine",)), confidence=0.5)
    down = rule("GO-DOWN", cond(kind=("heap",)), confidence=-0.95)
    v = _verdict(goroutine_finding(), heap_finding())
    s = session(libraries=("google.golang.org/grpc",))
    out = apply_rules(v, [up, down], s)
    g, h = out.findings
    assert (g.id, h.id) == ("g", "h")
    assert g.rule is not None and g.rule.id == "GO-UP" and g.confidence == 1.0
    assert h.rule is not None and h.rule.id == "GO-DOWN" and h.confidence == 0.0
    assert g.rule.fix == "fixed" and g.rule.explanation == "explained" and g.rule.matched
    assert out.libraries == ("google.golang.org/grpc",)
    unmatched = apply_rules(_verdict(heap_finding(kind="churn")), [up])
    assert unmatched.findings[0].rule is None


def test_verdict_json_carries_the_rule() -> None:
    import json

    from leakhunter.report.verdict_json import render_verdict_json

    r = Rule(
        "GO-X-Y", "T", "E", "F", (cond(kind=("goroutine",)),), sketch="code", references=("u",)
    )
    doc = json.loads(render_verdict_json(apply_rules(_verdict(goroutine_finding()), [r])))
    got = doc["findings"][0]["rule"]
    assert {k: got[k] for k in ("id", "title", "fix")} == {"id": "GO-X-Y", "title": "T", "fix": "F"}
    assert got["references"] == ["u"] and got["matched"] == ["goroutine evidence"]
    assert got["sketch"] == "code"


# -- facts helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "module"),
    [
        (
            Frame(
                "github.com/IBM/sarama.(*asyncProducer).dispatcher",
                "/root/go/pkg/mod/github.com/!i!b!m/sarama@v1.61.1/x.go",
            ),
            "github.com/IBM/sarama",
        ),
        (
            Frame("google.golang.org/grpc/internal/transport.f", "/vendor/x.go"),
            "google.golang.org/grpc",
        ),
        (Frame("github.com/a/b/c/d.F", ""), "github.com/a/b"),
        (Frame("golang.org/x/net/http2.F", ""), "golang.org/x/net"),
        (Frame("database/sql.(*DB).conn", ""), "database/sql"),
        (Frame("gopkg.in/yaml%2ev3.F", ""), "gopkg.in/yaml%2ev3"),
    ],
)
def test_module_of(frame: Frame, module: str) -> None:
    assert module_of(frame.function, frame.file) == module


@pytest.mark.parametrize(
    ("functions", "state"),
    [
        (["runtime.gopark", "runtime.selectgo", "main.f"], "select"),
        (["runtime.gopark", "runtime.block", "main.f"], "select (no cases)"),
        (["runtime.gopark", "runtime.chanrecv", "runtime.chanrecv2", "main.f"], "chan receive"),
        (["runtime.gopark", "runtime.chansend", "runtime.chansend1"], "chan send"),
        (["runtime.gopark", "runtime.netpollblock", "internal/poll.runtime_pollWait"], "IO wait"),
        (["runtime.gopark", "time.Sleep", "main.f"], "sleep"),
        (
            ["runtime.semacquire1", "sync.runtime_SemacquireWaitGroup", "sync.(*WaitGroup).Wait"],
            "sync.WaitGroup.Wait",
        ),
        (
            ["runtime.semacquire1", "internal/sync.(*Mutex).Lock", "sync.(*Mutex).Lock"],
            "sync.Mutex.Lock",
        ),
        (["runtime.semacquire1", "sync.(*RWMutex).RLock"], "sync.RWMutex.RLock"),
        (["syscall.Syscall6", "os.(*File).Read"], "syscall"),
        (["main.f"], ""),
    ],
)
def test_infer_state(functions: list[str], state: str) -> None:
    assert infer_state([Frame(f) for f in functions]) == state
