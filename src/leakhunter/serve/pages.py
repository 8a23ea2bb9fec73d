"""The fleet page serve shows at ``/``: one row per target, worst first.

A plain server-rendered table that refreshes itself, so one engineer without
Grafana sees the fleet in a browser; each row links to the target's page (the
same report as ``watch --html``, from the live state).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from leakhunter.serve.worker import TargetStatus
from leakhunter.units import format_duration, format_value

__all__ = ["fleet_page", "severity"]

_ORDER = {"leak": 0, "suspect": 1, "down": 2, "inconclusive": 3, "pending": 4, "ok": 5}


def severity(s: TargetStatus) -> tuple[int, str]:
    """Sort key: leaks first, then suspects, down targets, and the rest by id."""
    return _ORDER.get(s.status, 9), s.id


def _cell(value: float | None, unit: str) -> str:
    return "" if value is None else escape(format_value(value, unit))


def _row(s: TargetStatus) -> str:
    lead = next((f for f in s.findings if f.get("verdict") in ("leak", "suspect")), None)
    culprit = rule = ""
    if lead is not None:
        culprit = str((lead.get("culprit") or {}).get("function", ""))
        rule = str((lead.get("rule") or {}).get("id", ""))
    last = datetime.fromtimestamp(s.last_scrape, UTC).strftime("%H:%M:%S") if s.last_scrape else ""
    ttl = "" if s.time_to_oom is None else format_duration(s.time_to_oom)
    return (
        f'<tr class="{escape(s.status)}"><td><a href="targets/{escape(s.id)}">'
        f"{escape(s.url)}</a></td><td>{escape(s.status)}</td>"
        f"<td>{_cell(s.heap, 'bytes')}</td><td>{_cell(s.goroutines, 'goroutines')}</td>"
        f"<td>{escape(culprit)}</td><td>{escape(rule)}</td><td>{escape(ttl)}</td>"
        f"<td>{last}</td></tr>"
    )


def fleet_page(statuses: Sequence[TargetStatus]) -> str:
    """Return the fleet page's HTML."""
    rows = "\n".join(_row(s) for s in sorted(statuses, key=severity))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<title>leakhunter serve: {len(statuses)} targets</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .3em .8em; text-align: left; }}
tr.leak {{ background: #fdd; }} tr.suspect {{ background: #ffd; }} tr.down {{ color: #888; }}
</style></head><body>
<h1>leakhunter serve</h1>
<table><thead><tr><th>target</th><th>status</th><th>live heap</th><th>goroutines</th>
<th>culprit</th><th>rule</th><th>time to OOM</th><th>last scrape (UTC)</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""
