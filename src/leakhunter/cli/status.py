"""`leakhunter status`: the fleet table of a running serve, in the terminal.

Exit 0 when no target leaks, 1 when one does (so a script can gate on it),
2 when serve cannot be reached or answers something else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, ClassVar

from leakhunter.cli.base import EXIT_LEAK, EXIT_OK
from leakhunter.errors import TargetError

__all__ = ["StatusCommand", "render_status"]

_ORDER = {"leak": 0, "suspect": 1, "down": 2, "inconclusive": 3, "pending": 4, "ok": 5}


def _size(v: float | None, unit: str) -> str:
    from leakhunter.units import format_value

    return "" if v is None else format_value(v, unit)


def render_status(doc: dict[str, Any], color: bool, width: int = 120) -> str:
    """Return the fleet table (worst first) as terminal text."""
    from rich.console import Console
    from rich.table import Table

    from leakhunter.units import format_duration

    table = Table(title=f"leakhunter serve: {len(doc['targets'])} target(s)", expand=False)
    for col in ("target", "status", "live heap", "goroutines", "top finding", "time to OOM"):
        table.add_column(col, overflow="fold")
    styles = {"leak": "bold red", "suspect": "yellow", "down": "dim", "ok": "green"}
    rows = sorted(doc["targets"], key=lambda t: (_ORDER.get(t.get("status", ""), 9), t["id"]))
    for t in rows:
        lead = next((f for f in t["findings"] if f.get("verdict") in ("leak", "suspect")), None)
        finding = ""
        if lead is not None:
            culprit = (lead.get("culprit") or {}).get("function", "?")
            rule = (lead.get("rule") or {}).get("id")
            finding = f"{lead['kind']} {culprit}" + (f" ({rule})" if rule else "")
        ttl = t.get("time_to_oom_seconds")
        status = str(t.get("status", t.get("verdict", "")))
        table.add_row(
            t["target"],
            f"[{styles.get(status, '')}]{status}[/]" if styles.get(status) else status,
            _size(t.get("heap_live_bytes"), "bytes"),
            _size(t.get("goroutines"), "goroutines"),
            finding,
            "" if ttl is None else format_duration(ttl),
        )
    console = Console(width=width, color_system="standard" if color else None, record=True)
    with console.capture() as cap:
        console.print(table)
    return cap.get()


class StatusCommand:
    """Print the fleet table of a running serve."""

    name: ClassVar[str] = "status"
    help: ClassVar[str] = "show the fleet table of a running leakhunter serve"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare --url, --token-file and --json."""
        parser.add_argument(
            "--url", default="http://127.0.0.1:9480", help="serve's address (default local)"
        )
        parser.add_argument("--token-file", metavar="FILE", help="serve's bearer token")
        parser.add_argument("--json", action="store_true", help="print /api/targets as JSON")
        parser.add_argument("--no-color", action="store_true", help="no colours")

    def run(self, args: argparse.Namespace) -> int:
        """Fetch /api/targets and print it."""
        from leakhunter.cli.serve import read_token
        from leakhunter.collect.fetch import Fetcher, FetchOptions

        token = read_token(args.token_file) if args.token_file else None
        url = args.url.rstrip("/") + "/api/targets"
        with Fetcher(FetchOptions(timeout=10.0, retries=1, bearer_token=token)) as f:
            body = f.get(url, max_bytes=64 << 20).content
        try:
            doc = json.loads(body)
            if doc.get("schema") != "leakhunter.targets/1":
                raise ValueError(f"schema {doc.get('schema')!r}")
        except (ValueError, AttributeError) as exc:
            raise TargetError(f"{url}: not leakhunter serve's API ({exc})") from None
        if args.json:
            sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        else:
            color = sys.stdout.isatty() and not args.no_color and not os.environ.get("NO_COLOR")
            sys.stdout.write(render_status(doc, color))
        leaking = any(t.get("verdict") == "leak" for t in doc["targets"])
        return EXIT_LEAK if leaking else EXIT_OK
