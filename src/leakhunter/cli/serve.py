"""`leakhunter serve`: watch many targets continuously; metrics, API and pages over HTTP.

Targets come from a file_sd file (``--targets``), an http_sd URL
(``--http-sd``) and/or the Kubernetes API (``--kubernetes``). Listening beyond
loopback needs ``--token-file``: the token then guards everything but the
health checks and (unless ``--protect-metrics``) ``/metrics``.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from leakhunter.cli.parse import count, duration, size
from leakhunter.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from leakhunter.serve.discovery import Discovery
    from leakhunter.serve.notify import Notifier
    from leakhunter.serve.pyroscope import PyroscopeExporter

__all__ = ["ServeCommand", "parse_shard", "read_token"]


def parse_shard(text: str, hostname: str | None = None) -> tuple[int, int]:
    """Parse "i/N" (1 <= i <= N): this serve watches the i-th of N shards of the targets.

    "ordinal/N" takes i from the host name's trailing number plus one: a
    Kubernetes StatefulSet's pod ``leakhunter-0`` watches shard 1 of N, with no
    per-replica configuration.
    """
    i, sep, n = text.partition("/")
    if sep and i == "ordinal":
        host = hostname if hostname is not None else socket.gethostname()
        m = re.search(r"-(\d+)$", host)
        if m is None:
            raise argparse.ArgumentTypeError(
                f"--shard ordinal/N: the host name {host!r} does not end in -<ordinal>"
            )
        i = str(int(m.group(1)) + 1)
    if not sep or not i.isdigit() or not n.isdigit() or not 1 <= int(i) <= int(n):
        raise argparse.ArgumentTypeError(
            f"--shard wants i/N with 1 <= i <= N (or ordinal/N), not {text!r}"
        )
    return int(i), int(n)


def read_token(path: str) -> str:
    """Read a token file (first line, stripped); UsageError when unreadable or empty."""
    try:
        token = Path(path).read_text().strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--token-file {path}: cannot read it ({exc})") from None
    if not token or not token[0].strip():
        raise UsageError(f"--token-file {path}: the file is empty")
    return token[0].strip()


class ServeCommand:
    """Run the continuous monitor until SIGINT/SIGTERM."""

    name: ClassVar[str] = "serve"
    help: ClassVar[str] = "watch many services continuously; Prometheus metrics, API, web page"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare target sources, listening, data, timing and retention options."""
        from leakhunter.serve.options import ServeOptions

        d = ServeOptions()  # the defaults live there, once
        src = parser.add_argument_group("targets")
        src.add_argument(
            "--targets",
            metavar="FILE",
            action="append",
            default=[],
            help="Prometheus file_sd file (JSON or YAML); reloaded on change",
        )
        src.add_argument(
            "--http-sd",
            metavar="URL",
            action="append",
            default=[],
            help="Prometheus http_sd URL returning the same shape",
        )
        src.add_argument(
            "--kubernetes",
            action="store_true",
            help="discover annotated pods through the Kubernetes API",
        )
        src.add_argument(
            "--kubeconfig", metavar="FILE", help="kubeconfig to use (default: in-cluster config)"
        )
        src.add_argument(
            "--namespace",
            metavar="NS",
            action="append",
            default=[],
            help="only pods of this namespace (repeatable; default: all)",
        )
        src.add_argument(
            "--shard",
            type=parse_shard,
            metavar="i/N",
            help="watch only the i-th of N shards of the targets "
            "(ordinal/N: i from a StatefulSet pod's name, leakhunter-0 -> 1)",
        )
        net = parser.add_argument_group("HTTP")
        net.add_argument(
            "--listen",
            default="127.0.0.1:9480",
            metavar="HOST:PORT",
            help="where to answer (default 127.0.0.1:9480)",
        )
        net.add_argument(
            "--token-file",
            metavar="FILE",
            help="bearer token required by the API and pages (needed off loopback)",
        )
        net.add_argument(
            "--protect-metrics", action="store_true", help="require the token on /metrics too"
        )
        tell = parser.add_argument_group("notifications (without Alertmanager)")
        tell.add_argument(
            "--webhook",
            metavar="URL",
            action="append",
            default=[],
            help="POST every state change as leakhunter.event/1 JSON (@FILE: URL from a file)",
        )
        tell.add_argument(
            "--slack-webhook",
            metavar="URL",
            action="append",
            default=[],
            help="POST state changes as Slack messages (@FILE as above)",
        )
        tell.add_argument(
            "--notify-on",
            default="leak,down,ok",
            metavar="STATES",
            help="states to send: leak, suspect, down, ok (= recovered); default leak,down,ok",
        )
        tell.add_argument(
            "--ui-url", metavar="URL", help="serve's address as receivers reach it (report links)"
        )
        pyro = parser.add_argument_group("profiles to Grafana Pyroscope (optional)")
        pyro.add_argument(
            "--pyroscope-url",
            metavar="URL",
            help="push every scrape's heap and goroutine profiles to Pyroscope's push API "
            "(http://pyroscope:4040; @FILE: URL from a file)",
        )
        pyro.add_argument(
            "--pyroscope-basic-auth",
            metavar="@FILE",
            help="USER:PASSWORD for Pyroscope, best from a file (@FILE); never printed",
        )
        pyro.add_argument(
            "--pyroscope-tenant",
            metavar="ID",
            help="tenant sent as X-Scope-OrgID (multi-tenant Pyroscope; @FILE as above)",
        )
        run = parser.add_argument_group("watching")
        run.add_argument(
            "--data",
            default=str(d.data),
            metavar="DIR",
            help="state directory: database, segments, evidence",
        )
        run.add_argument(
            "--interval",
            type=duration,
            default=d.interval,
            metavar="DUR",
            help="default scrape interval (default 60s)",
        )
        run.add_argument(
            "--quiet-period",
            type=duration,
            default=d.quiet_period,
            metavar="DUR",
            help="after a target (re)starts, how long before it may be leaking",
        )
        run.add_argument(
            "--timeout",
            type=duration,
            default=d.timeout,
            metavar="DUR",
            help="deadline of each request to a target (default 10s)",
        )
        run.add_argument(
            "--gc-every",
            type=count(1, 10**6),
            default=d.gc_every,
            metavar="K",
            help="force a GC (heap?gc=1) on a target's first scrape and every K-th only "
            "(default 1: every scrape)",
        )
        run.add_argument(
            "--judge-every",
            type=duration,
            default=d.judge_every,
            metavar="DUR",
            help="once a target's history outgrows full resolution, judge it at most this "
            "often (default 5m; young runs, restarts and up/down changes at once)",
        )
        run.add_argument(
            "--workers",
            type=int,
            default=d.workers,
            metavar="N",
            help="scrapes at once (default 16)",
        )
        run.add_argument(
            "--top-findings",
            type=int,
            default=d.top_findings,
            metavar="N",
            help="findings per target exported as metrics (default 5)",
        )
        keep = parser.add_argument_group("retention")
        keep.add_argument(
            "--disk-budget",
            type=size,
            default=d.disk_budget,
            metavar="SIZE",
            help="bound on everything under --data (default 10GiB)",
        )
        keep.add_argument(
            "--raw-retention",
            type=duration,
            default=d.raw_retention,
            metavar="DUR",
            help="snapshots kept at full resolution (default 6h)",
        )
        keep.add_argument(
            "--retention",
            type=duration,
            default=d.retention,
            metavar="DUR",
            help="thinned snapshots kept (default 7d)",
        )
        keep.add_argument(
            "--evidence-retention",
            type=duration,
            default=d.evidence_retention,
            metavar="DUR",
            help="evidence captures kept (default 30d)",
        )
        keep.add_argument(
            "--segment",
            type=duration,
            default=d.segment_seconds,
            metavar="DUR",
            help="start a new snapshot folder per target this often (default 1h)",
        )
        keep.add_argument(
            "--housekeeping",
            type=duration,
            default=d.housekeeping_every,
            metavar="DUR",
            help="how often retention and the budget run (default 60s)",
        )

    def run(self, args: argparse.Namespace) -> int:
        """Build the discoveries and options, then serve until stopped."""
        from leakhunter.serve.api import ApiOptions
        from leakhunter.serve.options import ServeOptions
        from leakhunter.serve.server import Listen, run_serve

        listen = Listen.parse(args.listen)
        token = read_token(args.token_file) if args.token_file else None
        if not listen.loopback and token is None:
            raise UsageError(
                f"--listen {args.listen} is reachable from other machines: "
                "give --token-file (the API and pages then ask for the token)"
            )
        if args.workers < 1 or args.top_findings < 0:
            raise UsageError("--workers must be at least 1 and --top-findings not negative")
        options = ServeOptions(
            data=Path(args.data),
            interval=args.interval,
            quiet_period=args.quiet_period,
            timeout=args.timeout,
            workers=args.workers,
            top_findings=args.top_findings,
            raw_retention=args.raw_retention,
            retention=args.retention,
            evidence_retention=args.evidence_retention,
            disk_budget=args.disk_budget,
            segment_seconds=args.segment,
            housekeeping_every=args.housekeeping,
            gc_every=args.gc_every,
            judge_every=args.judge_every,
        )
        discoveries = _discoveries(args)
        api = ApiOptions(token=token, protect_metrics=args.protect_metrics)
        return run_serve(
            options,
            discoveries,
            listen,
            api,
            shard=args.shard,
            say=_say,
            notify=_notifier(args),
            export=_exporter(args),
        )


def _secret(value: str, what: str) -> str:
    """Return value, or the secret in the file it names with ``@FILE``."""
    if not value.startswith("@"):
        return value
    from leakhunter.serve.target_groups import GroupError, read_secret

    try:
        return read_secret(Path(value[1:]), what)
    except GroupError as exc:
        raise UsageError(str(exc)) from None


def _notifier(args: argparse.Namespace) -> Callable[[Callable[[str], None]], Notifier] | None:
    from leakhunter.serve.notify import Notifier, Webhook

    hooks = tuple(Webhook(_secret(u, "--webhook"), "json") for u in args.webhook) + tuple(
        Webhook(_secret(u, "--slack-webhook"), "slack") for u in args.slack_webhook
    )
    if not hooks:
        return None
    states = frozenset(s.strip() for s in args.notify_on.split(",") if s.strip())
    unknown = states - {"leak", "suspect", "down", "ok", "pending", "inconclusive"}
    if unknown:
        raise UsageError(f"--notify-on: unknown state(s) {', '.join(sorted(unknown))}")
    for h in hooks:
        if not h.url.startswith(("http://", "https://")):
            raise UsageError(f"a webhook must be an http(s) URL (host {h.host})")
    return lambda say: Notifier(hooks, statuses=states, ui=args.ui_url, say=say)


def _exporter(
    args: argparse.Namespace,
) -> Callable[[Callable[[str], None]], PyroscopeExporter] | None:
    """Return the Pyroscope exporter's factory (None without --pyroscope-url)."""
    from leakhunter.serve.pyroscope import PyroscopeExporter, PyroscopeOptions
    from leakhunter.urls import split_credentials

    if not args.pyroscope_url:
        if args.pyroscope_basic_auth or args.pyroscope_tenant:
            raise UsageError("--pyroscope-basic-auth and --pyroscope-tenant need --pyroscope-url")
        return None
    url, auth = split_credentials(_secret(args.pyroscope_url, "--pyroscope-url"))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise UsageError(
            "--pyroscope-url wants Pyroscope's base URL, http(s)://HOST[:PORT][/PATH] "
            f"(host {parts.hostname or 'missing'})"
        )
    if args.pyroscope_basic_auth:
        user, sep, password = _secret(
            args.pyroscope_basic_auth, "--pyroscope-basic-auth"
        ).partition(":")
        if not sep or not user:
            raise UsageError("--pyroscope-basic-auth wants USER:PASSWORD (or @FILE holding it)")
        auth = (user, password)
    tenant = _secret(args.pyroscope_tenant, "--pyroscope-tenant") if args.pyroscope_tenant else None
    if tenant is not None and not all(" " < c < "\x7f" for c in tenant):
        raise UsageError("--pyroscope-tenant: a tenant id is printable ASCII without spaces")
    options = PyroscopeOptions(url, basic_auth=auth, tenant=tenant)
    return lambda say: PyroscopeExporter(options, say=say)


def _say(line: str) -> None:
    print(line, flush=True)


def _discoveries(args: argparse.Namespace) -> list[Discovery]:
    from leakhunter.serve.discovery import FileSD, HttpSD

    found: list[Discovery] = [FileSD(Path(p)) for p in args.targets]
    found += [HttpSD(u) for u in args.http_sd]
    if args.kubernetes:
        from leakhunter.serve.kubeconfig import load_kube_config
        from leakhunter.serve.kubernetes import KubernetesSD

        config = load_kube_config(args.kubeconfig)
        found.append(KubernetesSD(config, namespaces=tuple(args.namespace)))
    if not found:
        raise UsageError("serve needs targets: --targets FILE, --http-sd URL or --kubernetes")
    if sys.platform == "win32":  # pragma: no cover - flock and signals are POSIX
        raise UsageError("serve runs on Linux and macOS")
    return found
