"""Small builders of Grafana's dashboard JSON model: queries, panels, rows, variables.

Only what the leakhunter dashboard uses, written against the documented model
(schemaVersion 39; older Grafanas migrate it on import). Panels are laid out
left to right on Grafana's 24-column grid and numbered in order by
:class:`Board`, so ids are unique and stable across runs (a diff of the
generated file shows real changes only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DATASOURCE", "Board", "query", "query_variable", "value_mappings"]

#: every panel reads the data source the viewer picks in the ``datasource`` variable
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_WIDTH = 24


def query(
    expr: str, legend: str = "", *, ref: str = "A", instant: bool = False, table: bool = False
) -> dict[str, Any]:
    """Return one Prometheus query of a panel."""
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "instant": instant,
        "range": not instant,
        "format": "table" if table else "time_series",
    }


def query_variable(name: str, label: str, promql: str, *, hidden: bool = False) -> dict[str, Any]:
    """Return a template variable filled by a ``label_values(...)`` query."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": promql,
        "definition": promql,
        "refresh": 2,  # on time range change: targets come and go
        "sort": 1,
        "multi": False,
        "includeAll": False,
        "current": {},
        "options": [],
        "regex": "",
        "hide": 2 if hidden else 0,
    }


def value_mappings(texts: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Return Grafana value mappings: value -> (text, colour)."""
    options = {
        value: {"text": text, "color": color, "index": i}
        for i, (value, (text, color)) in enumerate(texts.items())
    }
    return [{"type": "value", "options": options}]


class Board:
    """Places panels on the grid in reading order and numbers them."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = 0
        self.y = 0
        self.height = 0  # of the tallest panel in the current line

    def _next_id(self) -> int:
        return len(self.panels) + 1

    def _newline(self) -> None:
        self.y += self.height
        self.x, self.height = 0, 0

    def row(self, title: str) -> None:
        """Start a row (a titled band across the grid)."""
        if self.x:
            self._newline()
        self.panels.append(
            {
                "id": self._next_id(),
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"x": 0, "y": self.y, "w": _WIDTH, "h": 1},
            }
        )
        self.y += 1

    def add(
        self,
        kind: str,
        title: str,
        targets: Sequence[dict[str, Any]],
        *,
        w: int,
        h: int,
        description: str = "",
        unit: str = "",
        options: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        overrides: Sequence[dict[str, Any]] = (),
        transformations: Sequence[dict[str, Any]] = (),
        links: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Add a panel of ``kind`` ("timeseries", "stat", "table", "bargauge") w x h."""
        if self.x + w > _WIDTH:
            self._newline()
        field_defaults: dict[str, Any] = {"unit": unit} if unit else {}
        field_defaults.update(defaults or {})
        self.panels.append(
            {
                "id": self._next_id(),
                "type": kind,
                "title": title,
                "description": description,
                "datasource": DATASOURCE,
                "gridPos": {"x": self.x, "y": self.y, "w": w, "h": h},
                "targets": list(targets),
                "fieldConfig": {"defaults": field_defaults, "overrides": list(overrides)},
                "options": dict(options or {}),
                "transformations": list(transformations),
                "links": list(links),
            }
        )
        self.x += w
        self.height = max(self.height, h)
