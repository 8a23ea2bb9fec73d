"""Process figures from a target's Prometheus ``/metrics``: RSS, descriptors, limits.

Go services that register client_golang's process collector (the default
registry does), and Python services with prometheus-client, publish
``process_resident_memory_bytes``, ``process_open_fds`` and
``process_max_fds``; a target far away can still tell its descriptors and its
resident set this way. Parsed with prometheus-client's own text parser.
"""

from __future__ import annotations

import math

__all__ = ["PROCESS_METRICS", "process_figures"]

#: metric name -> the key the session record keeps it under
PROCESS_METRICS = {
    "process_resident_memory_bytes": "rss",
    "process_open_fds": "open_fds",
    "process_max_fds": "max_fds",
}
_LIMIT = 2**62


def process_figures(text: str) -> dict[str, int]:
    """Return the process figures a /metrics page publishes (unparsable pages: none)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, int] = {}
    try:
        for family in text_string_to_metric_families(text):
            key = PROCESS_METRICS.get(family.name)
            if key is None:
                continue
            for sample in family.samples:
                v = sample.value
                if sample.name == family.name and math.isfinite(v) and 0 <= v < _LIMIT:
                    out[key] = int(v)
    except (ValueError, TypeError, IndexError):
        return {}
    return out
