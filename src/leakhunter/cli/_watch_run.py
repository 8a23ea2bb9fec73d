"""The watch pipeline behind `watch`, `check` and `demo`: collect, show progress, analyse."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from leakhunter.analyze.judge import AnalyzeOptions
from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.fetch import FetchOptions
from leakhunter.collect.session import SnapshotRecord
from leakhunter.collect.watch import WatchOptions, collect
from leakhunter.errors import TargetError, UsageError
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


class _Suspects:
    """Re-analyses the session in the background now and then, for the live view."""

    def __init__(self, out: Path, options: AnalyzeOptions, progress: WatchProgress) -> None:
        self.out, self.options, self.progress = out, options, progress
        self.busy = threading.Lock()
        self.seen = 0

    def poke(self, count: int) -> None:
        if count < 6 or count - self.seen < max(1, count // 10):
            return
        if not self.busy.acquire(blocking=False):
            return
        self.seen = count
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            from leakhunter.analyze.engine import analyze_dir

            v = analyze_dir(self.out, self.options)
            self.progress.set_suspects(
                [
                    f"{f.verdict.value} {f.kind.value}: "
                    f"{f.culprit.function if f.culprit else '?'} ({f.confidence:.2f})"
                    for f in v.findings
                    if f.verdict.value != "churn"
                ]
            )
        except Exception:  # noqa: BLE001 - a live hint must never break the watch
            pass
        finally:
            self.busy.release()


def run_watch(
    url: str,
    wopts: WatchOptions,
    aopts: AnalyzeOptions,
    out: Path,
    *,
    manifest_options: dict[str, object] | None = None,
    color: bool = True,
    stop: threading.Event | None = None,
) -> Verdict:
    """Collect a session from url into out, then analyse it (also after Ctrl-C)."""
    from leakhunter.analyze.engine import analyze_dir

    stop = stop or threading.Event()
    progress = WatchProgress(url, wopts.planned(), wopts.interval, color=color)
    suspects = _Suspects(out, aopts, progress)

    def on_snapshot(rec: SnapshotRecord) -> None:
        progress.snapshot(rec)
        suspects.poke(progress.count)

    with _graceful_stop(stop), progress:
        result = collect(
            url,
            wopts,
            out,
            on_snapshot=on_snapshot,
            stop_event=stop,
            manifest_options=manifest_options,
        )
    if result.error:
        sys.stderr.write(f"leakhunter: collection stopped early: {result.error}\n")
    if result.snapshots == 0:
        raise TargetError(f"no snapshot could be taken from {url}")
    answered = [p for p in sorted(out.glob("*.json")) if p.name != "manifest.json"]
    if not answered:
        raise TargetError(f"no snapshot could be taken from {url}")
    sys.stderr.write(f"session saved in {out}\n")
    verdict = analyze_dir(out, aopts)
    if not any(s is not None for s in (verdict.heap,)) and verdict.snapshots == 0:
        raise TargetError(f"{url} never answered")
    return verdict
