"""py-unbounded-dict-cache-fixed: the same quote service, its cache bounded to 500 entries.

The fix of py-unbounded-dict-cache: evict the oldest entry beyond the bound (a
FIFO over the dict's insertion order). The code is dictcache's own, so its
function names are the leak's.
"""

from __future__ import annotations

from leakhunter_zoo_py import dictcache
from leakhunter_zoo_py._common import run

if __name__ == "__main__":
    dictcache.LIMIT = 500
    run(150.0, dictcache.scenario)
