"""Back-pressure beside the verdict: a Python service's leakhunter.guard buffers and pools.

A bounded buffer is the fix for an unbounded one, and it moves the question
from "does memory grow?" to "what does the bound cost?": items dropped or
refused, a buffer always full, pooled buffers not coming back. The agent
serves those counters in ``/debug/vars`` and ``watch`` keeps them in each
snapshot record; this module turns the judged run's first and latest records
into figures: the level now, and per-second rates and ratios of the counters
over the run (so a drop counter that rose before the window does not count).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from leakhunter.collect.session import SnapshotRecord

__all__ = ["GuardFigures", "guard_figures"]


@dataclass(frozen=True, slots=True)
class GuardFigures:
    """One named buffer or pool, as of the latest snapshot and over the judged run.

    ``kind`` is "buffer" or "pool". Buffers: ``level`` (fill ratio now), ``items``,
    ``capacity``, ``policy``, and over the run ``dropped_per_second``,
    ``rejected_per_second`` and ``full_ratio`` (puts that found it full, over
    all puts). Pools: ``hit_ratio`` over the run (gets served by an idle
    buffer), ``in_use`` now, ``oversized_per_second`` (buffers dropped for
    growing past their bound). ``totals`` are the counters now, as served.
    """

    kind: str
    name: str
    seconds: float  # the run the rates are over (0: one snapshot)
    totals: Mapping[str, int]
    policy: str = ""
    level: float | None = None
    items: int | None = None
    capacity: int | None = None
    dropped_per_second: float | None = None
    rejected_per_second: float | None = None
    full_ratio: float | None = None
    hit_ratio: float | None = None
    in_use: int | None = None
    oversized_per_second: float | None = None


def _ints(row: Mapping[str, int | str]) -> dict[str, int]:
    return {k: v for k, v in row.items() if isinstance(v, int)}


def _delta(now: Mapping[str, int], then: Mapping[str, int] | None, key: str) -> int | None:
    """Return how much a counter rose since then (None when unknown or it went down)."""
    if key not in now:
        return None
    before = then.get(key, 0) if then is not None else 0
    rise = now[key] - before
    return rise if rise >= 0 else None  # the service restarted its guard: no figure


def _rate(rise: int | None, seconds: float) -> float | None:
    return rise / seconds if rise is not None and seconds > 0 else None


def guard_figures(
    first: SnapshotRecord | None, last: SnapshotRecord | None
) -> tuple[GuardFigures, ...]:
    """Return the figures of every guard in the latest record, rates over first -> last."""
    if last is None or not last.guards:
        return ()
    seconds = last.time - first.time if first is not None else 0.0
    out: list[GuardFigures] = []
    for kind, label in (("buffers", "buffer"), ("pools", "pool")):
        before = first.guards.get(kind, {}) if first is not None else {}
        for name, row in sorted(last.guards.get(kind, {}).items()):
            now = _ints(row)
            then = _ints(before[name]) if name in before and first is not last else None
            span = seconds if then is not None else 0.0
            if label == "buffer":
                out.append(_buffer(name, row, now, then, span))
            else:
                out.append(_pool(name, now, then, span))
    return tuple(out)


def _buffer(
    name: str,
    row: Mapping[str, int | str],
    now: dict[str, int],
    then: dict[str, int] | None,
    seconds: float,
) -> GuardFigures:
    items, capacity = now.get("items"), now.get("capacity")
    full, puts, rejected = (_delta(now, then, k) for k in ("full", "puts", "rejected"))
    attempted = (puts or 0) + (rejected or 0)
    policy = row.get("policy", "")
    return GuardFigures(
        "buffer",
        name,
        seconds,
        now,
        policy=policy if isinstance(policy, str) else "",
        level=items / capacity if items is not None and capacity else None,
        items=items,
        capacity=capacity,
        dropped_per_second=_rate(_delta(now, then, "dropped"), seconds),
        rejected_per_second=_rate(rejected, seconds),
        full_ratio=full / attempted if full is not None and attempted and then else None,
    )


def _pool(
    name: str, now: dict[str, int], then: dict[str, int] | None, seconds: float
) -> GuardFigures:
    gets, hits = _delta(now, then, "gets"), _delta(now, then, "hits")
    return GuardFigures(
        "pool",
        name,
        seconds,
        now,
        hit_ratio=hits / gets if gets and hits is not None else None,
        in_use=now.get("in_use"),
        oversized_per_second=_rate(_delta(now, then, "oversized"), seconds),
    )
