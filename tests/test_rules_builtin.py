"""Builtin rules on real findings: a positive case and a near-miss for every rule.

Fixtures (tests/data/rules/*.json) are findings of real recorded sessions: zoo
scenarios and tests/goprogs_rules patterns on the real Go runtime, Python zoo
scenarios and tests/pyprogs_rules patterns in real CPython processes serving
leakhunter.agent (see tests/rules_fixtures.py). A near-miss is a real finding
that shares the positive's kind or library or wait state but is a different
pattern.
"""

from __future__ import annotations

import pytest

import rules_fixtures as rf
from leakhunter.harness.manifest import load_manifest
from leakhunter.rules import best_match, builtin_rules
from leakhunter.rules.engine import Match, match_rule
from leakhunter.rules.facts import finding_facts
from rules_pyprogs import PATTERNS as PYPROG_PATTERNS

RULES = builtin_rules()
BY_ID = {r.id: r for r in RULES}

#: rule id -> (positive fixtures, near-miss fixture)
CASES: dict[str, tuple[tuple[str, ...], str]] = {
    "GO-GRPC-STREAM-NOT-CLOSED": (
        ("zoo-grpc-stream-not-closed-0", "zoo-grpc-stream-not-closed-1"),
        "zoo-grpc-conn-per-request-0",
    ),
    "GO-GRPC-CONN-PER-REQUEST": (
        ("zoo-grpc-conn-per-request-0", "zoo-grpc-conn-per-request-1"),
        "zoo-grpc-stream-not-closed-0",
    ),
    "GO-GIN-CONTEXT-RETAINED": (
        ("zoo-gin-context-retained-0",),
        "zoo-gin-goroutine-captures-context-0",
    ),
    "GO-GIN-CONTEXT-IN-GOROUTINE": (
        ("zoo-gin-goroutine-captures-context-0",),
        "zoo-chan-receive-no-sender-0",
    ),
    "GO-SYNC-POOL-MISUSE": (
        ("goprog-sync-pool-held-0", "goprog-sync-pool-no-reset-0"),
        "zoo-grpc-stream-not-closed-1",  # grpc's own buffer pool
    ),
    "GO-THRIFT-BUFFER-CHURN": (("zoo-thrift-buffer-churn-0",), "zoo-bursty-load-0"),
    "GO-THRIFT-UNBOUNDED-CLIENTS": (
        ("zoo-thrift-unbounded-clients-0",),
        "zoo-thrift-buffer-churn-0",
    ),
    "GO-DB-UNBOUNDED-CLIENTS": (
        ("goprog-db-open-per-request-0",),
        "goprog-sql-rows-not-closed-0",
    ),
    "GO-HTTP-UNBOUNDED-CLIENTS": (
        ("goprog-http-client-per-request-0", "goprog-http-client-per-request-1"),
        "zoo-http-body-not-closed-0",
    ),
    "GO-DEFER-CLOSE-IN-LOOP": (
        ("zoo-files-defer-close-in-loop-0",),
        "zoo-unbounded-map-cache-0",  # live objects grow too, but no descriptor with them
    ),
    "GO-HTTP-BODY-NOT-CLOSED": (
        ("zoo-http-body-not-closed-0", "zoo-http-body-not-closed-1", "zoo-http-body-not-closed-2"),
        "goprog-http-client-per-request-0",
    ),
    "GO-SQL-ROWS-NOT-CLOSED": (
        ("goprog-sql-rows-not-closed-0",),
        "goprog-db-open-per-request-0",
    ),
    "GO-CHAN-PREMATURE-RETURN": (
        ("zoo-chan-receive-no-sender-0",),
        "goprog-ctx-done-not-watched-0",
    ),
    "GO-CHAN-RANGE-NEVER-CLOSED": (
        ("goprog-chan-range-never-closed-0",),
        "zoo-ticker-not-stopped-0",
    ),
    "GO-CTX-DONE-NOT-WATCHED": (
        ("goprog-ctx-done-not-watched-0",),
        "zoo-chan-receive-no-sender-0",
    ),
    "GO-SELECT-NO-EXIT": (("goprog-select-no-exit-0",), "goprog-db-open-per-request-0"),
    "GO-WAITGROUP-NEVER-DONE": (
        ("goprog-waitgroup-never-done-0",),
        "goprog-mutex-never-unlocked-0",
    ),
    "GO-MUTEX-NEVER-UNLOCKED": (
        ("goprog-mutex-never-unlocked-0",),
        "goprog-waitgroup-never-done-0",
    ),
    "GO-UNBOUNDED-CACHE": (("zoo-unbounded-map-cache-0",), "zoo-kafka-unbounded-queue-0"),
    "GO-SUBSLICE-RETENTION": (("goprog-subslice-retention-0",), "zoo-unbounded-map-cache-0"),
    "GO-KAFKA-SUCCESSES-NOT-DRAINED": (
        ("zoo-kafka-successes-not-drained-0",),
        "goprog-kafka-goroutine-per-message-0",
    ),
    "GO-KAFKA-UNBOUNDED-QUEUE": (("zoo-kafka-unbounded-queue-0",), "zoo-unbounded-map-cache-0"),
    "GO-KAFKA-GOROUTINE-PER-MESSAGE": (
        ("goprog-kafka-goroutine-per-message-0", "goprog-kafka-goroutine-per-message-1"),
        "zoo-kafka-successes-not-drained-0",
    ),
    "GO-TICKER-NOT-STOPPED": (
        ("zoo-ticker-not-stopped-0", "goprog-ticker-heap-0"),
        "goprog-chan-range-never-closed-0",
    ),
    "GO-CONTEXT-CANCEL-NOT-CALLED": (
        ("goprog-context-cancel-not-called-0", "goprog-context-custom-parent-0"),
        "goprog-time-after-loop-0",
    ),
    "GO-TIME-AFTER-IN-LOOP": (("goprog-time-after-loop-0",), "goprog-ticker-heap-0"),
    "GO-HEAP-GOROUTINE-STRUCTS": (
        ("zoo-gin-goroutine-captures-context-1",),
        "goprog-subslice-retention-0",
    ),
    "GO-GENERIC-CHURN": (("zoo-bursty-load-0",), "zoo-thrift-buffer-churn-0"),
    "PY-TASK-QUEUE-NO-CONSUMER": (
        ("zoo-py-task-queue-no-consumer-0",),
        "pyprog-task-event-never-set-0",  # tasks parked on an Event, not a queue
    ),
    "PY-TASK-NEVER-AWAITED": (
        ("pyprog-task-event-never-set-0", "pyprog-task-future-never-resolved-0"),
        "pyprog-task-retry-sleeping-1",  # tasks in asyncio.sleep: they will wake up
    ),
    "PY-THREAD-NEVER-JOINED": (
        ("zoo-py-thread-never-joined-0",),
        "pyprog-task-event-never-set-0",  # the same "event wait", in tasks, not threads
    ),
    "PY-UNBOUNDED-CACHE": (
        ("zoo-py-unbounded-dict-cache-0",),
        "pyprog-audit-list-growth-0",  # retained and growing, but an audit list, not a cache
    ),
    "PY-UNBOUNDED-QUEUE": (
        ("zoo-py-unbounded-writer-buffer-0",),
        "pyprog-audit-list-growth-0",  # retained and growing, but no producer/writer path
    ),
    "PY-AIOHTTP-SESSION-NOT-CLOSED": (
        (
            "zoo-py-aiohttp-session-not-closed-0",
            "zoo-py-aiohttp-session-not-closed-1",
            "pyprog-httpx-client-per-call-0",
        ),
        "pyprog-socket-per-call-0",  # raw sockets kept open, no client session
    ),
    "PY-SOCKET-OR-FILE-NOT-CLOSED": (
        ("pyprog-socket-per-call-0", "pyprog-file-per-upload-0"),
        "zoo-py-aiohttp-session-not-closed-0",  # sessions hold sockets too: the session rule
    ),
}

#: generic rules, checked with only the generic rules loaded: fixture -> rule
GENERIC_CASES = {
    "goprog-ticker-heap-0": "GO-GENERIC-HEAP-GROWTH-SLOWING",  # sampled growth slowing down
    "goprog-subslice-retention-0": "GO-GENERIC-HEAP-GROWTH",  # ... and its near-miss
    "zoo-chan-receive-no-sender-0": "GO-GENERIC-GOROUTINES-CHANNEL",
    "goprog-select-no-exit-0": "GO-GENERIC-GOROUTINES-SELECT",
    "goprog-waitgroup-never-done-0": "GO-GENERIC-GOROUTINES-SYNC",
    "goprog-http-client-per-request-0": "GO-GENERIC-GOROUTINES-IO",
    "zoo-unbounded-map-cache-0": "GO-GENERIC-HEAP-GROWTH",
    "zoo-thrift-buffer-churn-0": "GO-GENERIC-CHURN",
    "pyprog-audit-list-growth-0": "PY-GENERIC-HEAP-GROWTH",  # Python findings: Python words
    "pyprog-task-retry-sleeping-1": "PY-GENERIC-TASKS",
}


def _best(name: str) -> Match | None:
    f, s, _ = rf.load(name)
    return best_match(f, RULES, s)


def test_every_specific_rule_has_cases() -> None:
    specific = {r.id for r in RULES if "-GENERIC-" not in r.id}
    assert specific <= set(CASES), sorted(specific - set(CASES))
    assert set(CASES) <= set(BY_ID)


@pytest.mark.parametrize("fixture", rf.names())
def test_rules_of_one_runtime_never_name_the_other(fixture: str) -> None:
    """Go rules (goroutines, go tool pprof) never explain Python findings, and back."""
    m = _best(fixture)
    assert m is not None
    assert m.rule.id.startswith("PY-" if _is_python(fixture) else "GO-"), (fixture, m.rule.id)


def _is_python(name: str) -> bool:
    """Return True for fixtures of Python services (pyprogs and the zoo's py-* scenarios)."""
    return name.startswith(("pyprog-", "zoo-py-"))


def test_every_fixture_is_real() -> None:
    for name in rf.names():
        _, _, doc = rf.load(name)
        frames = [
            *doc["finding"]["stack"],
            *((doc["finding"]["goroutines"] or {}).get("stack", [])),
        ]
        files = {str(f[1]).rsplit(".", 1)[-1] for f in frames if len(f) > 1 and f[1]}
        if _is_python(name):
            assert "real CPython 3." in doc["source"], name
            assert "leakhunter.agent in-process" in doc["source"], name
            assert "py" in files and "go" not in files, (name, files)
        else:
            assert "real Go runtime" in doc["source"], name
            assert "go" in files and "py" not in files, (name, files)


def test_python_fixtures_come_from_python_sources() -> None:
    python = {f"zoo-{sc.name}" for sc in load_manifest() if sc.runtime == "python"}
    for name in rf.names():
        if name.startswith("zoo-"):
            assert _is_python(name) == (name.rsplit("-", 1)[0] in python), name
        elif _is_python(name):
            assert name.rsplit("-", 1)[0].removeprefix("pyprog-") in PYPROG_PATTERNS, name


@pytest.mark.parametrize(
    ("rule_id", "fixture"), [(r, p) for r, (ps, _) in CASES.items() for p in ps]
)
def test_positive(rule_id: str, fixture: str) -> None:
    m = _best(fixture)
    assert m is not None and m.rule.id == rule_id, m and (m.rule.id, m.evidence)
    assert m.evidence, "a match must say which evidence matched"


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_near_miss(rule_id: str) -> None:
    fixture = CASES[rule_id][1]
    f, s, doc = rf.load(fixture)
    m = best_match(f, RULES, s)
    assert m is not None
    assert m.rule.id != rule_id
    assert m.rule.id == doc["expect"]
    # if this rule matches the near-miss at all, it is less specific than the winner
    mine = match_rule(BY_ID[rule_id], finding_facts(f, s), s)
    assert mine is None or mine.sort_key() > m.sort_key()


@pytest.mark.parametrize("fixture", rf.names())
def test_fixture_expectation(fixture: str) -> None:
    """Every captured finding still gets the rule it got at capture (reviewed) time."""
    _, _, doc = rf.load(fixture)
    m = _best(fixture)
    assert (m.rule.id if m else None) == doc["expect"]


@pytest.mark.parametrize(("fixture", "rule_id"), sorted(GENERIC_CASES.items()))
def test_generic_rule_when_nothing_specific(fixture: str, rule_id: str) -> None:
    generic = [r for r in RULES if "-GENERIC-" in r.id]
    f, s, _ = rf.load(fixture)
    m = best_match(f, generic, s)
    assert m is not None and m.rule.id == rule_id


def test_every_finding_kind_has_a_generic_rule() -> None:
    generic = {r.id for r in RULES if r.generic}
    assert {"GO-GENERIC-HEAP-GROWTH", "GO-GENERIC-CHURN", "GO-GENERIC-GOROUTINES"} <= generic
    assert {"PY-GENERIC-HEAP-GROWTH", "PY-GENERIC-CHURN", "PY-GENERIC-TASKS"} <= generic
    for cls in ("channel", "select", "sync", "io", "sleep", "syscall", "running"):
        assert f"GO-GENERIC-GOROUTINES-{cls.upper()}" in generic


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_content(rule: object) -> None:
    from leakhunter.rules import Rule

    assert isinstance(rule, Rule)
    assert rule.builtin and rule.source.startswith("builtin/")
    assert len(rule.explanation) > 120, "say what it means and why it leaks"
    assert rule.fix and rule.sketch.strip(), "a fix and a short code sketch"
    assert rule.references and all(r.startswith("https://") for r in rule.references)
    assert -0.2 <= rule.confidence <= 0.2
