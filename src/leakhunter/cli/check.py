"""`leakhunter check`: run a service (and its load) under watch and fail the build on a leak.

Exit codes: 0 pass, 1 leak (a new leak, or an expired allowlist entry), 2 error
(the service or the load command failed, bad options), 3 inconclusive (unless
--allow-inconclusive). With ``--compare BEFORE_SESSION`` the gate is compare's
result against that session ("the leak we fixed stays fixed"): 0 fixed, 1 not
fixed or a new leak, 3 inconclusive.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

from leakhunter.analyze.judge import AnalyzeOptions
from leakhunter.analyze.verdict import Verdict
from leakhunter.cli._verdict_out import add_verdict_options, analyze_options, emit_verdict
from leakhunter.cli.parse import duration, fraction, size
from leakhunter.cli.watch import add_watch_options, default_out_dir, target_and_options
from leakhunter.errors import TargetError, UsageError
from leakhunter.gate.allowlist import AllowEntry
from leakhunter.pipeline import Judged
from leakhunter.urls import redact

__all__ = ["CheckCommand", "gc_failures"]


def gc_failures(verdict: Verdict, churn_limit: int | None, gc_budget: float | None) -> list[str]:
    """Return why GC pressure fails the build (--fail-on-churn, --gc-cpu-budget); [] passes."""
    from leakhunter.units import format_value

    g = verdict.gc
    out: list[str] = []
    if g is None:
        if churn_limit is not None or gc_budget is not None:
            out.append("no MemStats to judge GC pressure on (is the target a Go service?)")
        return out
    if churn_limit is not None and g.alloc_rate.known and g.alloc_rate.value > churn_limit:
        out.append(
            f"the service allocates {format_value(g.alloc_rate.value, 'bytes')}/s, above "
            f"--fail-on-churn {format_value(churn_limit, 'bytes')}/s"
        )
    if gc_budget is not None and g.cpu_fraction.known and g.cpu_fraction.value > gc_budget:
        out.append(
            f"GC takes {g.cpu_fraction.value:.1%} of the CPU, above --gc-cpu-budget {gc_budget:.1%}"
        )
    return out


class CheckCommand:
    """The CI gate: start the service, drive load, watch, judge, apply known findings."""

    name: ClassVar[str] = "check"
    help: ClassVar[str] = "CI gate: run a service under load, fail the build if it leaks"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the service, load, gate and watch options."""
        parser.add_argument("--cmd", metavar="COMMAND", help="command that starts the service")
        parser.add_argument(
            "--url", metavar="URL", help="pprof base URL (default: found in the service's output)"
        )
        parser.add_argument("--load", metavar="COMMAND", help="load command run during the window")
        parser.add_argument(
            "--startup-timeout",
            type=duration,
            default=30.0,
            metavar="DUR",
            help="how long the service may take to come up (default 30s)",
        )
        parser.add_argument(
            "--allowlist", metavar="FILE", help="known findings (TOML) with reasons"
        )
        parser.add_argument("--baseline", metavar="FILE", help="fail only on findings not in FILE")
        parser.add_argument(
            "--write-baseline", metavar="FILE", help="write this run's leak findings to FILE"
        )
        parser.add_argument(
            "--compare",
            metavar="SESSION",
            help="gate on compare against this BEFORE session (or a baseline session): "
            "fail unless the leak it had stays fixed and nothing new leaks",
        )
        parser.add_argument(
            "--allow-inconclusive",
            action="store_true",
            help="exit 0 instead of 3 when the window cannot decide",
        )
        parser.add_argument(
            "--fail-on-churn",
            type=size,
            metavar="BYTES_PER_S",
            help="fail when the service allocates faster than this (e.g. 200MiB)",
        )
        parser.add_argument(
            "--gc-cpu-budget",
            type=fraction,
            metavar="FRACTION",
            help="fail when the runtime spends more than this share of CPU in GC (e.g. 0.1)",
        )
        add_watch_options(parser)
        add_verdict_options(parser)
        parser.set_defaults(interval=2.0)

    def run(self, args: argparse.Namespace) -> int:
        """Run the check and return the gate's exit code."""
        from leakhunter.gate.allowlist import load_allowlist
        from leakhunter.gate.baseline import read_baseline

        if not args.cmd and not args.url:
            raise UsageError("check needs --cmd (a command starting the service) or --url")
        allow = load_allowlist(args.allowlist) if args.allowlist else ()
        baseline = read_baseline(args.baseline) if args.baseline else frozenset()
        aopts = analyze_options(args)
        if args.compare:
            from leakhunter.compare.engine import judge_side

            args.compare_before = judge_side(args.compare, aopts)  # bad folder: fail now
        if args.duration is None and args.snapshots is None:
            args.duration = 60.0
        out = Path(args.out) if args.out else default_out_dir(args.url or "service")
        return _Check(args, allow, baseline, aopts, out).run()


class _Check:
    def __init__(
        self,
        args: argparse.Namespace,
        allow: tuple[AllowEntry, ...],
        baseline: frozenset[str],
        aopts: AnalyzeOptions,
        out: Path,
    ) -> None:
        self.args, self.allow, self.baseline, self.aopts, self.out = (
            args,
            allow,
            baseline,
            aopts,
            out,
        )
        self.failure: str | None = None
        self.stop = threading.Event()

    def say(self, text: str) -> None:
        sys.stderr.write(f"leakhunter check: {text}\n")
        sys.stderr.flush()

    def run(self) -> int:
        from leakhunter.collect.process import Child

        args = self.args
        service = load = None
        try:
            url = args.url
            if args.cmd:
                self.say(f"starting the service: {args.cmd}")
                service = Child(args.cmd, "service")
                if url is None:
                    url = service.find_address(args.startup_timeout)
            self.wait_ready(url, service)
            self.say(f"service is up at {redact(url)}")
            if args.load:
                self.say(f"starting the load: {args.load}")
                load = Child(args.load, "load")
            watcher = threading.Thread(target=self.monitor, args=(service, load), daemon=True)
            watcher.start()
            try:
                judged = self.watch(url)
            except TargetError:
                # A failed load or a dead service stops the watch early; blame
                # them, not the target, even when the monitor has not looked yet.
                self.look(service, load)
                if self.failure:
                    raise TargetError(self.failure) from None
                raise
            self.look(service, load)
            if self.failure:
                raise TargetError(self.failure)
        finally:
            for child in (load, service):
                if child is not None:
                    child.stop()
        return self.judge(judged)

    def wait_ready(self, url: str, service: object) -> None:
        from leakhunter.collect.fetch import Fetcher, FetchError, FetchOptions
        from leakhunter.collect.process import Child

        deadline = time.monotonic() + self.args.startup_timeout
        with Fetcher(FetchOptions(timeout=2.0, retries=0)) as f:
            while True:
                try:
                    f.get(url.rstrip("/") + "/debug/pprof/")
                    return
                except FetchError as exc:
                    if isinstance(service, Child) and service.poll() is not None:
                        raise TargetError(service.died()) from None
                    if time.monotonic() > deadline:
                        raise TargetError(
                            f"service never answered at {redact(url)}: {exc}"
                        ) from None
                time.sleep(0.2)

    def monitor(self, service: object, load: object) -> None:
        while not self.stop.is_set():
            if self.look(service, load):
                self.stop.set()
                return
            time.sleep(0.1)

    def look(self, service: object, load: object) -> bool:
        """Record the first failure of the service or the load; return True once there is one."""
        from leakhunter.collect.process import Child

        if self.failure is None:
            if isinstance(service, Child) and service.poll() is not None:
                self.failure = "the service died during the check: " + service.died()
            elif isinstance(load, Child) and load.poll() not in (None, 0):
                self.failure = "the load failed: " + load.died()
        return self.failure is not None

    def watch(self, url: str) -> Judged:
        from leakhunter.cli._watch_run import run_watch

        color = not self.args.no_color and sys.stderr.isatty()
        url, wopts = target_and_options(url, self.args)
        try:
            return run_watch(
                url,
                wopts,
                self.aopts,
                self.out,
                color=color,
                stop=self.stop,
                manifest_options={"check": {"cmd": self.args.cmd, "load": self.args.load}},
            )
        finally:
            self.stop.set()

    def judge(self, judged: Judged) -> int:
        from leakhunter.gate.baseline import write_baseline
        from leakhunter.gate.decide import decide

        verdict = judged.verdict
        if self.args.compare:
            return self.judge_compare(verdict)
        decision = decide(
            verdict,
            self.allow,
            self.baseline,
            inconclusive_fails=not self.args.allow_inconclusive,
        )
        if self.args.write_baseline:
            n = write_baseline(self.args.write_baseline, verdict.findings)
            self.say(f"wrote {n} finding(s) to the baseline {self.args.write_baseline}")
        emit_verdict(decision.verdict, self.args, judged)
        for line in decision.allowed:
            self.say(f"note: {line}")
        for line in decision.known:
            self.say(f"note: {line}")
        for line in decision.expired:
            self.say(f"FAIL: {line}")
        pressure = gc_failures(verdict, self.args.fail_on_churn, self.args.gc_cpu_budget)
        for line in pressure:
            self.say(f"FAIL: {line}")
        code = decision.exit_code
        if pressure and code in (0, 3):
            code = 1
        failed = "FAIL (GC pressure)" if pressure and decision.exit_code != 1 else "FAIL (leak)"
        verdict_word = {0: "PASS", 1: failed, 3: "FAIL (inconclusive)"}
        self.say(verdict_word.get(code, str(code)))
        return code

    def judge_compare(self, verdict: Verdict) -> int:
        """Gate on compare: the BEFORE session's leaks must stay fixed, nothing new may leak.

        The allowlist and baseline do not apply here: the BEFORE session is the baseline.
        """
        from leakhunter.cli.compare import emit_comparison
        from leakhunter.compare.engine import judge_side
        from leakhunter.compare.judge import judge_comparison
        from leakhunter.gate.baseline import write_baseline

        if self.args.write_baseline:
            n = write_baseline(self.args.write_baseline, verdict.findings)
            self.say(f"wrote {n} finding(s) to the baseline {self.args.write_baseline}")
        c = judge_comparison(self.args.compare_before, judge_side(self.out, self.aopts))
        code = emit_comparison(c, self.args)
        if code == 3 and self.args.allow_inconclusive:
            code = 0
        word = {0: "PASS", 1: f"FAIL ({c.result.value})", 3: "FAIL (inconclusive)"}
        self.say(f"compare against {self.args.compare}: {word.get(code, str(code))}")
        return code
