"""Pure operations on profiles: merge, scale, diff, filter, aggregate, top."""

from __future__ import annotations

from leakhunter.ops.aggregate import Granularity, NodeTable, TopReport, TopRow, node_table, top
from leakhunter.ops.filter import filter_samples
from leakhunter.ops.merge import BASE_LABEL, diff, merge, scale

__all__ = [
    "BASE_LABEL",
    "Granularity",
    "NodeTable",
    "TopReport",
    "TopRow",
    "diff",
    "filter_samples",
    "merge",
    "node_table",
    "scale",
    "top",
]
