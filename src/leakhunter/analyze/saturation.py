"""Growth that slows toward a bound: a cache or pool filling up, not a leak.

A cache filled on misses over a finite key space grows like ``A - B e^(-t/tau)``: every
snapshot adds less than the one before, and the level approaches ``A``. In a window that
ends before the cache is full, every exact heap figure still rises, the trend tests
pass, and the last half still grows (more slowly): the shape of a leak, except that it
bends. A leak grows at the rate of its traffic: a line.

So the exact live heap is fitted both ways, a line and a saturating exponential (``tau``
on a grid, ``A`` and ``B`` by least squares). The growth is called saturating when the
curve explains the series far better than the line (its squared residuals under
``max_rss_ratio`` of the line's), it bends inside the window (``tau`` between
``min_tau`` and ``max_tau`` of the window; a smaller tau is a one-off step at the start,
a larger one is a line), and most of the growth is already done (what is left to the
asymptote is under ``max_remaining`` of the growth so far), and no line hides under the
bend (a leak that started beside a warm-up: fitted with the curve, the line carries
under ``max_line_share`` of the growth; ~0.5 or more for a warm-up then a leak, ~0.1 or
less for caches). Measured on every zoo recording, at every length from 6 to 15
snapshots: no leak came within these bounds (the closest, a Python leak at 6 snapshots,
bends with tau 0.95 of its window), while the filling caches fall in them once their
bend shows (8 snapshots and more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leakhunter.analyze.evidence import F64

__all__ = ["Saturation", "saturation"]

#: the curve must leave at most this share of the line's squared residuals
max_rss_ratio = 0.25
#: the bend's time constant, as a share of the window
min_tau, max_tau = 0.15, 0.8
#: growth still to come before the asymptote, as a share of the growth so far
max_remaining = 0.5
#: a line fitted under the bend may carry at most this share of the growth
max_line_share = 0.25
#: fewer points cannot tell a bend from noise
min_points = 8

_TAUS = np.geomspace(0.05, 3.0, 48)


@dataclass(frozen=True, slots=True)
class Saturation:
    """A series that slows toward ``asymptote`` with time constant ``tau`` seconds."""

    asymptote: float
    tau: float
    remaining: float  # growth still to come over growth so far

    def describe(self, fmt: str) -> str:
        """One line of evidence; ``fmt`` is the asymptote already formatted."""
        return (
            f"grows ever more slowly toward ~{fmt} (each snapshot adds less; a saturating "
            f"curve fits far better than a line, time constant {self.tau:.0f} s): a cache or "
            "pool filling to its bound, not a leak; a longer watch shows it level off"
        )


def saturation(t: F64, y: F64) -> Saturation | None:
    """Return how ``y`` saturates, or None when it does not (or cannot be told)."""
    if len(y) < min_points:
        return None
    x = np.asarray(t, dtype=np.float64) - float(t[0])
    y = np.asarray(y, dtype=np.float64)
    span = float(x[-1])
    growth = float(y[-1] - y[0])
    if span <= 0 or growth <= 0:
        return None
    ones = np.ones_like(x)
    line = np.vstack([ones, x]).T
    coef, *_ = np.linalg.lstsq(line, y, rcond=None)
    rss_line = float(((line @ coef - y) ** 2).sum())
    best: tuple[float, float, float] | None = None  # rss, tau share, asymptote
    for share in _TAUS:
        curve = np.vstack([ones, np.exp(-x / (share * span))]).T
        (a, c), *_ = np.linalg.lstsq(curve, y, rcond=None)
        if c >= 0:  # not rising toward a bound
            continue
        rss = float(((curve @ np.array([a, c]) - y) ** 2).sum())
        if best is None or rss < best[0]:
            best = (rss, float(share), float(a))
    if best is None:
        return None
    rss, share, asymptote = best
    remaining = (asymptote - float(y[-1])) / growth
    if (
        rss > max_rss_ratio * rss_line
        or not min_tau <= share <= max_tau
        or remaining >= max_remaining
        or _line_under_the_bend(x, y, span) >= max_line_share * growth
    ):
        return None
    return Saturation(asymptote=asymptote, tau=share * span, remaining=remaining)


def _line_under_the_bend(x: F64, y: F64, span: float) -> float:
    """The growth a line carries under a bend fitted with it (``a + b t - c e^(-t/tau)``).

    A leak that starts beside a warm-up bends like a cache at first, then keeps
    rising at the leak's rate: fitted together, the line carries much of its
    growth (about half or more in every shape tried). A cache's curve needs no line.
    """
    best: tuple[float, float] | None = None  # rss, line growth
    ones = np.ones_like(x)
    for share in _TAUS:
        model = np.vstack([ones, x, np.exp(-x / (share * span))]).T
        coef, *_ = np.linalg.lstsq(model, y, rcond=None)
        if coef[2] >= 0:
            continue
        rss = float(((model @ coef - y) ** 2).sum())
        if best is None or rss < best[0]:
            best = (rss, float(coef[1]) * span)
    return 0.0 if best is None else best[1]
