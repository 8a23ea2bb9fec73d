"""The watch pipeline behind `watch`, `check` and `demo`: collect, show progress, analyse."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from leakhunter.analyze.analyzer import Analyzer
from leakhunter.analyze.judge import AnalyzeOptions
from leakhunter.collect.fetch import FetchOptions
from leakhunter.collect.session import SnapshotRecord
from leakhunter.collect.snapshot import MemorySnapshot
from leakhunter.collect.watch import WatchOptions, collect, target_base
from leakhunter.errors import LeakhunterError, TargetError, UsageError
from leakhunter.pipeline import Judged
from leakhunter.report.progress import WatchProgress

__all__ = ["run_watch", "watch_options"]


def watch_options(args: argparse.Namespace) -> WatchOptions:
    """Build WatchOptions from parsed flags."""
    import os

    headers = []
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header must look like 'Name: value', not {h!r}")
        headers.append((name.strip(), value.strip()))
    fetch = FetchOptions(
        timeout=args.timeout,
        retries=args.retries,
        headers=tuple(headers),
        bearer_token=args.token or os.environ.get("LEAKHUNTER_TOKEN"),
        ca_file=args.ca_file,
        insecure=args.insecure,
    )
    dur = args.duration
    if dur is None and args.snapshots is None:
        dur = 600.0
    return WatchOptions(
        interval=args.interval,
        duration=dur,
        snapshots=args.snapshots,
        allocs=args.allocs,
        goroutine_dumps=not args.no_dumps,
        fetch=fetch,
        gc_every=args.gc_every,
    )


@contextlib.contextmanager
def _graceful_stop(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C/SIGTERM ends collection gracefully; a second one aborts."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        sys.stderr.write("\nstopping: finishing up and analysing what was collected...\n")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class _Live:
    """Feeds each snapshot to the analyser as it arrives, and shows what it suspects.

    Judging is cheap but not free (it grows with the live sites, not with the
    history): the live view asks for a verdict only while that keeps the
    analyser under a tenth of the watch's wall time.
    """

    def __init__(self, analyzer: Analyzer, progress: WatchProgress) -> None:
        self.analyzer, self.progress = analyzer, progress
        self.spent = 0.0
        self.started = time.monotonic()

    def add(self, snap: MemorySnapshot) -> None:
        t0 = time.monotonic()
        self.analyzer.add(snap)
        if self.analyzer.usable >= 6 and self.spent <= 0.1 * (t0 - self.started):
            try:
                v = self.analyzer.analysis().verdict
            except LeakhunterError:
                v = None
            if v is not None:
                self.progress.set_suspects(
                    [
                        f"{f.verdict.value} {f.kind.value}: "
                        f"{f.culprit.function if f.culprit else '?'} ({f.confidence:.2f})"
                        for f in v.findings
                        if f.verdict.value != "churn"
                    ]
                )
        self.spent += time.monotonic() - t0


def run_watch(
    url: str,
    wopts: WatchOptions,
    aopts: AnalyzeOptions,
    out: Path,
    *,
    manifest_options: dict[str, object] | None = None,
    color: bool = True,
    stop: threading.Event | None = None,
) -> Judged:
    """Collect a session from url into out, analysing as it goes; judge it (also after Ctrl-C).

    The verdict comes from the analyser the snapshots were fed to as they
    arrived: the session folder is written for later, never read back.
    """
    from leakhunter.collect.session import SessionInfo, load_manifest
    from leakhunter.pipeline import judge

    stop = stop or threading.Event()
    progress = WatchProgress(url, wopts.planned(), wopts.interval, color=color)
    analyzer = Analyzer(target_base(url), aopts)
    live = _Live(analyzer, progress)

    def on_snapshot(rec: SnapshotRecord) -> None:
        progress.snapshot(rec)

    with _graceful_stop(stop), progress:
        result = collect(
            url,
            wopts,
            out,
            on_snapshot=on_snapshot,
            on_view=live.add,
            stop_event=stop,
            manifest_options=manifest_options,
        )
    if result.error:
        sys.stderr.write(f"leakhunter: collection stopped early: {result.error}\n")
    if result.snapshots == 0 or analyzer.usable == 0:
        raise TargetError(f"no snapshot could be taken from {url}")
    sys.stderr.write(f"session saved in {out}\n")
    return judge(analyzer.analysis(), aopts, SessionInfo.of(out, load_manifest(out)))
