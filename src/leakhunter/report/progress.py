"""Live progress of a watch: a rich panel on a TTY, one plain line per snapshot otherwise.

Shows elapsed and remaining time, snapshot count, exact heap and goroutine
count with sparklines, endpoint errors, and the current leading suspects (fed by
a periodic background analysis; see cli/watch.py).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from leakhunter.collect.session import SnapshotRecord
from leakhunter.report.safe_text import for_terminal
from leakhunter.report.terminal import sparkline
from leakhunter.units import format_value
from leakhunter.urls import redact

__all__ = ["WatchProgress"]


class WatchProgress:
    """Receives snapshot records and suspects; renders them as they come."""

    def __init__(
        self,
        target: str,
        planned: int | None,
        interval: float,
        *,
        stream: IO[str] | None = None,
        live: bool | None = None,
        color: bool = True,
    ) -> None:
        self.target = redact(target)  # never show a URL's password
        self.planned = planned
        self.interval = interval
        self.stream = stream or sys.stderr
        self.live_mode = self.stream.isatty() if live is None else live
        self.heap: list[float] = []
        self.goroutines: list[float] = []
        self.count = 0
        self.errors = 0
        self.last_errors: dict[str, str] = {}
        self.epoch = 0
        self.suspects: list[str] = []
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._console = Console(file=self.stream, no_color=not color, highlight=False)
        self._live: Live | None = None

    def __enter__(self) -> WatchProgress:
        if self.live_mode:
            self._live = Live(
                self._render(), console=self._console, refresh_per_second=4, transient=False
            )
            self._live.__enter__()
        else:
            when = f"{self.planned} snapshots" if self.planned else "until interrupted"
            self._line(f"watching {self.target}: every {self.interval:g} s, {when}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)
            self._live = None

    def _line(self, text: str) -> None:
        self.stream.write(for_terminal(text) + "\n")  # errors quote the target's answers
        self.stream.flush()

    def snapshot(self, rec: SnapshotRecord) -> None:
        """Record one committed snapshot."""
        with self._lock:
            self.count += 1
            heap = rec.memstats.get("HeapAlloc")
            if heap is not None:
                self.heap.append(float(heap))
            if rec.goroutines is not None:
                self.goroutines.append(float(rec.goroutines))
            if rec.errors:
                self.errors += 1
                self.last_errors = {k: for_terminal(e) for k, e in rec.errors.items()}
            restarted = rec.epoch != self.epoch
            self.epoch = rec.epoch
        if self._live is not None:
            self._live.update(self._render())
            return
        heap_s = format_value(heap, "bytes") if heap is not None else "?"
        gor = f"{rec.goroutines:,}" if rec.goroutines is not None else "?"
        extra = ""
        if rec.errors:
            extra = "  errors: " + "; ".join(f"{k}: {v}" for k, v in rec.errors.items())
        if restarted:
            extra += "  (target restarted)"
        total = f"/{self.planned}" if self.planned else ""
        self._line(
            f"snapshot {self.count}{total} t={rec.elapsed:.1f}s heap={heap_s} "
            f"goroutines={gor}{extra}"
        )

    def set_suspects(self, suspects: list[str]) -> None:
        """Replace the leading suspects shown."""
        suspects = [for_terminal(s) for s in suspects]  # function names from the target
        with self._lock:
            changed = suspects != self.suspects
            self.suspects = suspects
        if self._live is not None:
            self._live.update(self._render())
        elif changed and suspects:
            self._line("leading suspect: " + suspects[0])

    def _render(self) -> Group:
        elapsed = time.monotonic() - self.start
        t = Table.grid(padding=(0, 2))
        t.add_column(style="dim")
        t.add_column()
        t.add_row("target", self.target)
        left = ""
        if self.planned:
            remaining = max(0.0, (self.planned - 1) * self.interval - elapsed)
            left = f", ~{remaining:.0f} s left"
        total = f"/{self.planned}" if self.planned else ""
        t.add_row("progress", f"{self.count}{total} snapshots, {elapsed:.0f} s elapsed{left}")
        if self.heap:
            t.add_row(
                "live heap",
                f"{format_value(self.heap[-1], 'bytes'):>10}  {sparkline(self.heap, 30)}",
            )
        if self.goroutines:
            t.add_row(
                "goroutines", f"{self.goroutines[-1]:>10,.0f}  {sparkline(self.goroutines, 30)}"
            )
        if self.errors:
            detail = "; ".join(f"{k}: {v}" for k, v in self.last_errors.items())
            t.add_row("errors", Text(f"{self.errors} snapshot(s); last: {detail}", style="yellow"))
        if self.epoch:
            t.add_row("restarts", Text(f"{self.epoch} (series split there)", style="yellow"))
        for i, s in enumerate(self.suspects[:3]):
            t.add_row("suspect" if i == 0 else "", Text(s, style="bold red" if i == 0 else ""))
        return Group(Text("leakhunter watch", style="bold"), t)
