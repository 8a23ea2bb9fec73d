"""Zoo harness command line: ``python -m leakhunter.harness build|list|record|run``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace

from leakhunter.collect.session import SnapshotRecord
from leakhunter.collect.watch import WatchOptions
from leakhunter.errors import LeakhunterError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m leakhunter.harness")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or find cached) the zoo binary; print its path")
    b.add_argument("--force", action="store_true", help="rebuild even if cached")
    sub.add_parser("list", help="list the scenarios of the zoo manifest")
    r = sub.add_parser("record", help="run a scenario and record a session folder")
    r.add_argument("scenario")
    r.add_argument("out")
    r.add_argument("--snapshots", type=int, default=20)
    r.add_argument("--interval", type=float, default=1.0)
    r.add_argument("--rate", type=float, default=None)
    r.add_argument("--scale", type=float, default=None)
    r.add_argument("--allocs", action="store_true", help="also collect allocs profiles")
    r.add_argument("--no-dumps", action="store_true", help="never fetch debug=2 dumps")
    r.add_argument("--dump-growth", type=int, default=WatchOptions().dump_growth)
    u = sub.add_parser("run", help="run a scenario in the foreground until Ctrl-C")
    u.add_argument("scenario")
    u.add_argument("--duration", type=float, default=600.0)
    u.add_argument("--addr", default="127.0.0.1:0")
    u.add_argument("--rate", type=float, default=None)
    return parser


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _progress(rec: SnapshotRecord) -> None:
    heap = rec.memstats.get("HeapAlloc")
    errors = f" errors={sorted(rec.errors)}" if rec.errors else ""
    print(
        f"snapshot {rec.seq} t={rec.elapsed:.1f}s epoch={rec.epoch} heap={heap} "
        f"goroutines={rec.goroutines}{errors}",
        file=sys.stderr,
        flush=True,
    )


def _run(args: argparse.Namespace) -> int:
    from leakhunter.harness import build_zoo, load_manifest, record, start

    if args.cmd == "build":
        print(build_zoo(force=args.force))
    elif args.cmd == "list":
        for s in load_manifest():
            print(f"{s.name:34} {s.verdict:8} {','.join(s.grows) or '-':18} {s.family}")
    elif args.cmd == "record":
        options = replace(
            WatchOptions(), goroutine_dumps=not args.no_dumps, dump_growth=args.dump_growth
        )
        options = replace(options, allocs=args.allocs)
        result = record(
            args.scenario,
            args.out,
            snapshots=args.snapshots,
            interval=args.interval,
            rate=args.rate,
            scale=args.scale,
            options=options,
            on_snapshot=_progress,
            stop_event=_stop_on_signals(),
        )
        print(f"{result.snapshots} snapshots in {result.directory} ({result.stopped})")
        if result.error:
            print(f"error: {result.error}", file=sys.stderr)
            return 2
    elif args.cmd == "run":
        stop = _stop_on_signals()
        with start(args.scenario, duration=args.duration, addr=args.addr, rate=args.rate) as run:
            print(run.url, flush=True)
            while run.running and not stop.wait(0.5):
                pass
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the harness command line; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except LeakhunterError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
