"""Whether a heap site's sampled object growth could be an exact count's growth.

Two signals of one cause grow alike: a goroutine per connection and its buffers,
an open file and its reader. Goroutine and descriptor counts are exact; a heap
site's live objects come from Go's sampled profile, which records an object of
``size`` bytes with probability ``p = 1 - exp(-size/period)`` and scales the
count back up by ``1/p``. A ratio of rates is therefore only as good as the few
raw samples behind it: a 32 KiB object is sampled ~6% of the time, so 280 new
files in a 15 s window rest on ~17 samples, and a ratio test with a fixed band
fails now and then on luck alone (one CI run measured 0.41x the true rate).

The test here asks the question the data can answer: is the number of raw
samples observed plausible (two-sided Poisson, alpha = 0.001) for *some* ratio
in the band, given the exact count? Many samples make it as strict as the band;
few samples widen it, as they should.
"""

from __future__ import annotations

import math

import numpy as np

from leakhunter.analyze.evidence import valid
from leakhunter.analyze.reduce import Reduced
from leakhunter.analyze.verdict import Finding, FindingKind

__all__ = ["grows_in_step", "poisson_tail"]

#: a ratio outside the band is accepted only if the samples make it this likely
_ALPHA = 1e-3


def _cdf(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam), summed in log space (no underflow at large lam)."""
    if k < 0:
        return 0.0
    if lam <= 0:
        return 1.0
    logs = [i * math.log(lam) - lam - math.lgamma(i + 1) for i in range(k + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def poisson_tail(k: int, lam: float, upper: bool) -> float:
    """Return P(X >= k) (upper) or P(X <= k) (not upper) for X ~ Poisson(lam)."""
    return max(0.0, 1.0 - _cdf(k - 1, lam)) if upper else _cdf(k, lam)


def _site_growth(red: Reduced, f: Finding) -> tuple[float, float, float] | None:
    """(objects grown, bytes grown, seconds) of a heap finding's site, first to last point.

    A site that allocates objects of several sizes (a 32 KiB buffer and a 48-byte
    header per file) has its object count ruled by its smallest samples: the profile
    scales one sampled 48-byte object up to ~10,000 objects, one 32 KiB buffer to
    ~16. So on a sampled profile the count is read at the typical size of what the
    site added, the median of bytes per object over the snapshots that added some,
    not from the total (one stray small sample made 280 files look like 11,000
    objects and split one cause into two findings).
    """
    if f.kind is not FindingKind.HEAP or not f.series:
        return None
    site = f.series[0].label.removeprefix("inuse bytes at ")
    objs = red.heap_objects.rows.get(site)
    if objs is None:
        return None
    t, yo = valid(red.t, objs)
    if len(yo) < 2 or t[-1] <= t[0]:
        return None
    grown, nbytes = float(yo[-1] - yo[0]), f.growth.end - f.growth.start
    if red.heap_period > 0 and grown > 0 and nbytes > 0:
        _, yb = valid(red.t, red.heap_inuse.array(site))
        if len(yb) == len(yo):
            dn, db = np.diff(yo), np.diff(yb)
            added = (dn > 0) & (db > 0)
            if added.any():
                grown = nbytes / float(np.median(db[added] / dn[added]))
    return grown, nbytes, float(t[-1] - t[0])


def grows_in_step(red: Reduced, f: Finding, per_second: float, low: float, high: float) -> bool:
    """Return True when the site's live objects could grow ``low..high`` per counted thing.

    ``per_second`` is the exact rate of the other signal (goroutines or descriptors).
    """
    grown = _site_growth(red, f)
    if grown is None or per_second <= 0:
        return False
    n, nbytes, seconds = grown
    things = per_second * seconds
    period = red.heap_period
    if period <= 0:  # exact figures (a census): the band itself decides
        return n > 0 and low <= n / things <= high
    if n <= 0:
        return False
    p = -math.expm1(-max(nbytes / n, 1.0) / period)
    k = round(n * p)  # the raw samples behind the growth
    too_few = poisson_tail(k, things * low * p, upper=False) < _ALPHA
    too_many = poisson_tail(k, things * high * p, upper=True) < _ALPHA
    return not (too_few or too_many)
