"""`leakhunter watch URL`: take snapshots over time, then print the verdict."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from leakhunter.cli._verdict_out import add_verdict_options, analyze_options, emit_verdict
from leakhunter.cli.parse import count, duration
from leakhunter.urls import split_credentials

if TYPE_CHECKING:
    from leakhunter.collect.watch import WatchOptions

__all__ = ["WatchCommand", "add_watch_options", "default_out_dir", "target_and_options"]


def add_watch_options(parser: argparse.ArgumentParser) -> None:
    """Declare the collection options shared by watch and check."""
    parser.add_argument(
        "--interval",
        type=duration,
        default=15.0,
        metavar="DUR",
        help="time between snapshots (default 15s)",
    )
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument(
        "--duration", type=duration, metavar="DUR", help="how long to watch (default 10m)"
    )
    stop.add_argument(
        "--snapshots", type=count(1, 10**9), metavar="N", help="how many snapshots to take"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="session folder (default: ./leakhunter-sessions/...)"
    )
    parser.add_argument("--allocs", action="store_true", help="also collect allocs profiles")
    parser.add_argument("--no-dumps", action="store_true", help="never fetch full debug=2 dumps")
    parser.add_argument(
        "--gc-every",
        type=count(1, 10**6),
        default=1,
        metavar="K",
        help="force a GC (heap?gc=1) on the first snapshot and every K-th only (default 1: "
        "every one); spares a big heap's service a full GC per snapshot, the exact live "
        "heap then rests on every K-th snapshot",
    )
    parser.add_argument(
        "--timeout", type=duration, default=10.0, metavar="DUR", help="per-request timeout"
    )
    parser.add_argument(
        "--retries",
        type=count(0, 100),
        default=2,
        metavar="N",
        help="retries per request (0-100; a watch's window ends them all the same)",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header",
    )
    parser.add_argument("--token", metavar="TOKEN", help="bearer token (or LEAKHUNTER_TOKEN)")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for https targets")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    parser.add_argument(
        "--allow-redirect",
        action="append",
        default=[],
        metavar="HOST",
        help="follow redirects to HOST too (sent without --header, --token or URL "
        "credentials); by default redirects are followed on the target's host only",
    )


def target_and_options(url: str, args: argparse.Namespace) -> tuple[str, WatchOptions]:
    """Return the target URL without credentials, and WatchOptions that carry them.

    From here on the URL is safe to store in the session and to print.
    """
    from leakhunter.cli._watch_run import watch_options

    clean, auth = split_credentials(url)
    wopts = watch_options(args)
    fetch = replace(
        wopts.fetch,
        basic_auth=auth or wopts.fetch.basic_auth,
        redirect_hosts=tuple(getattr(args, "allow_redirect", None) or ()),
    )
    return clean, replace(wopts, fetch=fetch)


def default_out_dir(url: str) -> Path:
    """Return ./leakhunter-sessions/<host>-<port>-<timestamp>."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "target").replace(":", "_")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("leakhunter-sessions") / f"{host}-{parts.port or 80}-{stamp}"


class WatchCommand:
    """Watch a live target's pprof endpoints and judge its memory over time."""

    name: ClassVar[str] = "watch"
    help: ClassVar[str] = "snapshot a running service over time, then print the leak verdict"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare URL and the collection and verdict options."""
        parser.add_argument("url", metavar="URL", help="the target's base or pprof URL")
        add_watch_options(parser)
        add_verdict_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Collect, analyse and report."""
        out = Path(args.out) if args.out else default_out_dir(args.url)
        color = not args.no_color and sys.stderr.isatty()
        from leakhunter.cli._watch_run import run_watch

        url, wopts = target_and_options(args.url, args)
        judged = run_watch(url, wopts, analyze_options(args), out, color=color)
        return emit_verdict(judged.verdict, args, judged)
