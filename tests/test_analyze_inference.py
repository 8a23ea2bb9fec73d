"""Culprits of memory no application frame allocated: inferred from the session's other stacks.

Hand-built stacks of a gin service (net/http's connection loop reads the request,
gin takes a pooled context, the app's middleware and handler run under both),
folded through ``RunFold.note_callers`` as the analysis does; then a real recorded
session of the zoo's gin-raw-context-retained scenario.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from leakhunter.analyze.frames import AppMatcher
from leakhunter.analyze.heap_findings import LIBRARY_CULPRIT
from leakhunter.analyze.inference import infer_culprit, infer_culprits
from leakhunter.analyze.judge import rank_key
from leakhunter.analyze.reduce import DumpFacts, Reduced, RunFold
from leakhunter.analyze.verdict import Finding, FindingKind, FindingVerdict, Growth
from leakhunter.model.goroutine import Frame
from leakhunter.pipeline import analyze_dir
from leakhunter.rules.facts import SessionFacts, finding_facts

GOROOT = "/usr/local/go/src"
GIN = "/root/go/pkg/mod/github.com/gin-gonic/gin@v1.10.0"
APP = "/src/shop"
M = AppMatcher(goroot="/usr/local/go/")


def _go(fn: str, line: int = 10) -> Frame:
    pkg = fn.split(".", 1)[0]
    return Frame(fn, f"{GOROOT}/{pkg}/x.go", line)


def _gin(fn: str, line: int = 10) -> Frame:
    return Frame(f"github.com/gin-gonic/gin.{fn}", f"{GIN}/gin.go", line)


def _app(fn: str, line: int = 10) -> Frame:
    return Frame(f"example.com/shop/api.{fn}", f"{APP}/api/api.go", line)


GOEXIT = Frame("runtime.goexit", f"{GOROOT}/runtime/asm_amd64.s", 1700)
SERVE_READ = _go("net/http.(*conn).serve", 2020)  # where it reads the request
SERVE_CALL = _go("net/http.(*conn).serve", 2067)  # where it calls the handler
SERVER_HANDLER = _go("net/http.serverHandler.ServeHTTP", 3311)
ENGINE = _gin("(*Engine).ServeHTTP", 672)
NEXT = _gin("(*Context).Next", 192)
JOURNAL = _app("journalRequests", 52)
PRODUCT = _app("(*CatalogAPI).getProduct", 43)
ORDERS = _app("(*OrderAPI).listOrders", 61)

#: request headers: read by net/http before any handler runs
HEADERS = (
    _go("net/textproto.readMIMEHeader", 574),
    _go("net/http.readRequest", 1131),
    _go("net/http.(*conn).readRequest", 1068),
    SERVE_READ,
    GOEXIT,
)
#: gin's pooled contexts: allocated by the pool's New, inside gin
CONTEXTS = (
    _gin("(*Engine).allocateContext", 207),
    _gin("New.func1", 199),
    _go("sync.(*Pool).Get", 151),
    ENGINE,
    SERVER_HANDLER,
    SERVE_CALL,
    GOEXIT,
)


def _request(*app: Frame) -> tuple[Frame, ...]:
    """A request goroutine's stack, leaf first: gin's chain running ``app`` (outermost first)."""
    chain: list[Frame] = [_go("time.Sleep", 363)]
    for f in reversed(app):
        chain += [f, NEXT]
    return (
        *chain,
        _gin("(*Engine).handleHTTPRequest", 722),
        ENGINE,
        SERVER_HANDLER,
        SERVE_CALL,
        GOEXIT,
    )


def _reduced(
    *stacks: tuple[Frame, ...],
    sites: dict[str, tuple[Frame, ...]] | None = None,
    groups: dict[str, tuple[Frame, ...]] | None = None,
    dumps: dict[str, DumpFacts] | None = None,
) -> Reduced:
    """The session's view after folding these stacks (any profile: heap or goroutine)."""
    fold = RunFold()
    fold.matcher = M
    for s in stacks:
        fold.note_callers(s)
    return Reduced(
        t=np.zeros(0),
        exact={},
        goroutines_total=np.zeros(0),
        site_frames=sites or {},
        group_frames=groups or {},
        dumps=dumps or {},
        matcher=M,
        callers=fold.callers,
        module_callers=fold.module_callers,
        callees=fold.callees,
    )


def test_the_middleware_the_connection_loop_runs_keeps_its_requests() -> None:
    red = _reduced(_request(JOURNAL, PRODUCT), _request(JOURNAL, ORDERS), HEADERS)
    inf = infer_culprit(red, HEADERS)
    assert inf is not None and inf.via == "runs"
    assert inf.frame == JOURNAL  # the outermost app frame: it wraps every handler
    assert inf.strength == 1.0
    assert "net/http.(*conn).serve" in inf.evidence and "inferred" in inf.evidence


def test_pooled_contexts_name_the_code_gin_runs_not_an_unrelated_pool_user() -> None:
    # The app has a sync.Pool of its own: its New runs under sync.(*Pool).Get too,
    # but on another path. Only the path gin allocated on counts.
    own_pool = (
        _app("newBuffer", 20),
        _go("sync.(*Pool).Get", 151),
        _go("encoding/json.newEncodeState", 40),
        _go("encoding/json.Marshal", 160),
        _go("net/rpc.(*Server).ServeCodec", 470),
        GOEXIT,
    )
    red = _reduced(own_pool, own_pool, _request(JOURNAL, PRODUCT), CONTEXTS)
    inf = infer_culprit(red, CONTEXTS)
    assert inf is not None and inf.frame == JOURNAL


def test_a_handler_alone_is_blamed_when_no_middleware_wraps_it() -> None:
    red = _reduced(_request(PRODUCT), _request(PRODUCT))
    inf = infer_culprit(red, HEADERS)
    assert inf is not None and inf.frame == PRODUCT


def test_a_close_candidate_seen_growing_a_collection_is_preferred() -> None:
    stacks = [_request(PRODUCT)] * 3 + [_request(ORDERS)] * 2
    inf = infer_culprit(_reduced(*stacks), HEADERS)
    assert inf is not None and inf.frame == PRODUCT  # seen most
    assert inf.strength == pytest.approx(0.6) and ORDERS.function in inf.evidence
    appends = (Frame("runtime.growslice", f"{GOROOT}/runtime/slice.go", 177), ORDERS)
    inf = infer_culprit(_reduced(*stacks, sites={ORDERS.function: appends}), HEADERS)
    assert inf is not None and inf.frame == ORDERS
    assert "grows a slice or map" in inf.evidence
    # ...but not against much stronger evidence for another
    stacks = [_request(PRODUCT)] * 5 + [_request(ORDERS)] * 2
    inf = infer_culprit(_reduced(*stacks, sites={ORDERS.function: appends}), HEADERS)
    assert inf is not None and inf.frame == PRODUCT


def test_what_a_generic_runner_runs_elsewhere_is_not_evidence() -> None:
    runner = _go("sync.(*WaitGroup).Go.func1", 239)
    lib_work = (_go("compress/flate.NewWriter", 600), _go("compress/gzip.(*Writer).Write", 190))
    app_work = (_app("refreshPrices", 33), runner, GOEXIT)
    red = _reduced(app_work, app_work)
    assert infer_culprit(red, (*lib_work, runner, GOEXIT)) is None


def test_a_library_goroutine_is_blamed_on_the_app_call_that_started_it() -> None:
    root = Frame("github.com/acme/queue.(*Consumer).fetchLoop", "/root/go/pkg/mod/q.go", 90)
    creator = Frame("github.com/acme/queue.(*Consumer).Start", "/root/go/pkg/mod/q.go", 40)
    start = _app("(*Ingest).Run", 77)
    alloc = (Frame("github.com/acme/queue.decode", "/root/go/pkg/mod/q.go", 300), root, GOEXIT)
    parked = (_go("runtime.gopark", 1), _go("net.(*conn).Read", 196), root, GOEXIT)
    red = _reduced(
        (creator, start, GOEXIT),  # the app starts the consumer
        groups={"g": parked},
        dumps={"g": DumpFacts(state="IO wait", created_by=creator)},
    )
    inf = infer_culprit(red, alloc)
    assert inf is not None and inf.via == "enters"
    assert inf.frame == start
    assert root.function in inf.evidence and creator.function in inf.evidence
    # a short-lived goroutine no dump caught: the library type its function belongs to
    inf = infer_culprit(_reduced((creator, start, GOEXIT)), alloc)
    assert inf is not None and inf.frame == start and inf.strength == 0.5
    assert "github.com/acme/queue.(*Consumer)" in inf.evidence


def test_no_evidence_no_guess() -> None:
    assert infer_culprit(_reduced(), HEADERS) is None
    # ...and a stack that shows the app already has its culprit
    assert infer_culprit(_reduced(_request(JOURNAL)), _request(JOURNAL)) is None


def _heap(stack: tuple[Frame, ...], culprit: Frame, per_hour: float, conf: float) -> Finding:
    return Finding(
        id=f"heap-{culprit.function}",
        kind=FindingKind.HEAP,
        verdict=FindingVerdict.LEAK,
        confidence=conf,
        culprit=culprit,
        stack=stack,
        growth=Growth("bytes", 1e6, 1e6 + per_hour / 3600 * 14, per_hour),
        evidence=(f"grew under {culprit.function}", LIBRARY_CULPRIT),
        linked=("heap",),
    )


def test_findings_of_one_inferred_culprit_become_one() -> None:
    red = _reduced(_request(JOURNAL, PRODUCT), HEADERS, CONTEXTS)
    headers = _heap(HEADERS, HEADERS[0], 6e8, 0.9)
    contexts = _heap(CONTEXTS, CONTEXTS[0], 2e8, 0.8)
    out = infer_culprits(red, [headers, contexts])
    assert len(out) == 1
    f = out[0]
    assert f.culprit == JOURNAL and f.culprit_via == "runs"
    assert f.growth.per_hour == pytest.approx(8e8)
    assert f.confidence < 0.9  # inferred: less sure than a culprit seen allocating
    assert LIBRARY_CULPRIT not in f.evidence
    assert sum("inferred" in e for e in f.evidence) == 2
    assert f.stack == HEADERS  # where the memory was allocated, as before


def test_a_culprit_seen_allocating_leads_and_ranks_before_an_inferred_one() -> None:
    red = _reduced(_request(JOURNAL, PRODUCT), _request(JOURNAL), _request(ORDERS), HEADERS)
    growslice = Frame("runtime.growslice", f"{GOROOT}/runtime/slice.go", 177)
    direct = replace(_heap((growslice, JOURNAL), JOURNAL, 1e8, 0.7), evidence=("appends",))
    headers = _heap(HEADERS, HEADERS[0], 6e8, 0.9)
    out = infer_culprits(red, [headers, direct])
    assert len(out) == 1 and out[0].culprit_via == "" and out[0].stack == direct.stack
    assert out[0].growth.per_hour == pytest.approx(7e8)
    # ranking: seen in app code, then inferred, then library code
    lone = infer_culprits(_reduced(_request(ORDERS)), [_heap(HEADERS, HEADERS[0], 9e8, 0.99)])[0]
    library = _heap(CONTEXTS, CONTEXTS[0], 9e9, 0.99)
    ranked = sorted([library, lone, direct], key=lambda f: rank_key(f, M))
    assert ranked == [direct, lone, library]


def test_library_memory_allocated_inside_the_inferred_culprit_is_the_same_cause() -> None:
    # the handler's c.JSON clones response headers (net/http code) on the context's
    # writer: the middleware that keeps the context keeps them too
    response = (
        _go("net/http.Header.Clone", 103),
        _go("net/http.(*response).WriteHeader", 1216),
        _gin("(*Context).JSON", 1080),
        *_request(JOURNAL, PRODUCT)[1:],
    )
    red = _reduced(_request(JOURNAL, PRODUCT), HEADERS)
    headers = _heap(HEADERS, HEADERS[0], 6e8, 0.9)
    clones = replace(_heap(response, PRODUCT, 1e8, 0.95), evidence=("clones grew",))
    out = infer_culprits(red, [clones, headers])
    assert len(out) == 1 and out[0].culprit == JOURNAL and out[0].culprit_via == "runs"
    assert out[0].growth.per_hour == pytest.approx(7e8)
    assert "clones grew" in out[0].evidence and out[0].confidence < 0.9
    assert any(PRODUCT.function in e and "inside" in e for e in out[0].evidence)
    # ...not when it grew more than all the inferred culprit keeps
    big = replace(clones, growth=Growth("bytes", 0, 1e7, 9e9))
    assert [f.culprit for f in infer_culprits(red, [big, headers])] == [PRODUCT, JOURNAL]
    # ...nor memory the app allocated itself (its own cause)
    own = replace(clones, stack=(Frame("runtime.makeslice", "", 1), *_request(JOURNAL, PRODUCT)))
    own = replace(own, stack=(own.stack[0], PRODUCT, *own.stack[3:]))
    assert [f.culprit for f in infer_culprits(red, [own, headers])] == [PRODUCT, JOURNAL]


def test_rules_see_that_an_inferred_culprit_did_not_allocate() -> None:
    lone = infer_culprits(_reduced(_request(ORDERS)), [_heap(HEADERS, HEADERS[0], 9e8, 0.99)])[0]
    assert lone.culprit == ORDERS
    facts = finding_facts(lone, SessionFacts(matcher=M))
    assert facts.culprit_origin == "stdlib"  # net/textproto allocated it, not the app


SESSION = Path(__file__).parent / "data" / "sessions" / "gin-raw-context-retained"


def test_recorded_gin_journal_names_the_middleware() -> None:
    v = analyze_dir(SESSION)
    lead = v.findings[0]
    assert v.verdict.value == "leak" and lead.kind is FindingKind.HEAP
    assert lead.culprit is not None
    assert lead.culprit.function == "github.com/leakhunter/zoo/scenarios/ginjournal.journalRequests"
    assert lead.culprit_via == "runs"
    assert lead.rule is not None and lead.rule.id == "GO-GIN-CONTEXT-RETAINED"
    assert any("net/http.(*conn).serve" in e and "inferred" in e for e in lead.evidence)
    # one cause, one finding: every growing site of the requests it keeps is in it
    assert not [f for f in v.findings[1:] if f.culprit == lead.culprit]
