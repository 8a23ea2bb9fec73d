"""Shared pieces of the judgement: series masks, trend-based confidence, evidence wording."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.trend import Trend
from leakhunter.analyze.verdict import Series
from leakhunter.formats.goroutine_fields import infer_state as infer_wait
from leakhunter.model.goroutine import Frame, WaitClass
from leakhunter.units import format_value

__all__ = [
    "F64",
    "LEAKY_CLASSES",
    "confidence",
    "finding_id",
    "infer_state",
    "make_series",
    "rate",
    "valid",
]

F64 = npt.NDArray[np.float64]
#: Wait classes where a parked goroutine waits on something nobody may complete.
LEAKY_CLASSES = {WaitClass.CHANNEL, WaitClass.SELECT, WaitClass.SYNC, WaitClass.IO}


def finding_id(kind: str, key: str) -> str:
    """Return a stable finding id: kind plus a hash of what identifies it."""
    return f"{kind}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def confidence(tr: Trend, bonus: float = 0.0) -> float:
    """Return a 0..1 confidence from a trend: significance, persistence, monotonicity."""
    sig = min(1.0, -math.log10(max(tr.p_value, 1e-12)) / 8.0)
    pers = min(1.0, max(0.0, tr.persistence))
    mono = min(1.0, max(0.0, (tr.monotone - 0.5) * 2))
    score = 0.45 + 0.2 * sig + 0.15 * pers + 0.1 * mono + bonus
    return round(min(0.99, max(0.05, score)), 2)


def make_series(label: str, unit: str, t: F64, y: F64, tr: Trend | None) -> Series:
    """Return a chart series with its Theil-Sen fit."""
    return Series(
        label=label,
        unit=unit,
        t=tuple(round(float(x), 3) for x in t),
        values=tuple(float(v) for v in y),
        fit_slope=tr.slope if tr else 0.0,
        fit_start=tr.start if tr else 0.0,
    )


def valid(t: F64, y: F64) -> tuple[F64, F64]:
    """Return the points that are present (NaN marks a point whose profile was missing)."""
    ok = ~np.isnan(y)
    return t[ok], y[ok]


def rate(value: float, unit: str) -> str:
    """Format a per-second rate as a per-hour one."""
    return f"{format_value(value * 3600, unit)}/h"


def infer_state(frames: Sequence[Frame]) -> str:
    """Return the wait state a goroutine stack's leaf frames imply ("" if none).

    The one definition analysis and rules share (the dump parser's own reading).
    """
    return infer_wait(frames) or ""
