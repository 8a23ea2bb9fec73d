"""The Prometheus alerting rules of the mixin, built from :class:`MixinOptions`.

Two kinds of signal. The leak and out-of-memory alerts trust serve's verdict
(``leakhunter_finding_leak``, ``leakhunter_time_to_oom_seconds``): serve has
already fitted the trend, waited out the warm-up and named the culprit, so
Prometheus must not judge the heap a second time. The goroutine and
descriptor alerts are Prometheus's own backstop on serve's raw gauges; they
use ``deriv`` (a least-squares slope, right for a gauge; ``rate`` would read
every drop as a counter reset) over one window, only once that whole window
holds history (``... and metric offset WINDOW``), and only after the slope
held for ``for:``, so a warm-up ramp or a sawtooth never holds long enough.

Annotations are Go templates evaluated by Prometheus: ``$value`` is the
alert's number (growth per hour, seconds left), ``$labels`` the series'
labels, and ``query`` fetches the figures an on-call engineer wants next to
it (time to OOM, the live heap).
"""

from __future__ import annotations

from typing import Any

from leakhunter.serve.mixin.options import MixinOptions, number, prom_duration, series

__all__ = ["ALERT_NAMES", "alert_rules"]

ALERT_NAMES = (
    "LeakhunterLeakDetected",
    "LeakhunterOutOfMemorySoon",
    "LeakhunterGoroutinesGrowing",
    "LeakhunterFdExhaustion",
    "LeakhunterTargetDown",
)
#: how a growth per hour reads: bytes in binary units, anything else as a count
_GROWTH = (
    '{{ if eq $labels.unit "bytes" }}{{ $value | humanize1024 }}B/h'
    "{{ else }}{{ $value | humanize }} {{ $labels.unit }}/h{{ end }}"
)


def _lookup(options: MixinOptions, name: str, *matchers: str) -> str:
    """Return the PromQL of this target's series of ``name``, for ``printf``.

    ``%q`` quotes the label values as Go does, which PromQL reads back; a ``%``
    of the user's selector is doubled so printf leaves it alone.
    """
    own = options.selector.strip().replace("%", "%%")
    inner = ", ".join(m for m in (own, *matchers, "id=%q", "target=%q") if m)
    return f"{name}{{{inner}}}"


def _query(promql: str, show: str, otherwise: str, unit: str = "") -> str:
    """Return a template that runs promql for this alert's target and shows its first result.

    The PromQL goes in a Go raw string (backticks): its double quotes need no escaping.
    """
    return (
        f"{{{{ with printf `{promql}` $labels.id $labels.target | query }}}}"
        f"{{{{ . | first | {show} }}}}{unit}{{{{ else }}}}{otherwise}{{{{ end }}}}"
    )


def _ttl(options: MixinOptions) -> str:
    q = _lookup(options, "leakhunter_time_to_oom_seconds")
    return _query(q, "value | humanizeDuration", "unknown (no memory limit known)")


def _heap(options: MixinOptions) -> str:
    q = _lookup(options, "leakhunter_heap_live_bytes")
    return _query(q, "value | humanize1024", "unknown", unit="B")


def _report(options: MixinOptions) -> str:
    return f"{options.serve_url.rstrip('/')}/targets/{{{{ $labels.id }}}}"


def _common(options: MixinOptions, alert: str) -> dict[str, str]:
    out = {"report_url": _report(options)}
    if options.runbook_url:
        out["runbook_url"] = f"{options.runbook_url}#{alert.lower()}"
    return out


def _rule(
    alert: str, expr: str, for_: float, severity: str, annotations: dict[str, str], o: MixinOptions
) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": prom_duration(for_),
        "labels": {"severity": severity},
        "annotations": annotations | _common(o, alert),
    }


def _leak(o: MixinOptions) -> dict[str, Any]:
    growth = series("leakhunter_finding_growth_per_second", o)
    leak = series("leakhunter_finding_leak", o)
    expr = f"(3600 * {growth})\n  and ignoring (unit)\n({leak} == 1)\n"
    rule = "{{ if $labels.rule }} ({{ $labels.rule }}){{ end }}"
    return _rule(
        "LeakhunterLeakDetected",
        expr,
        o.leak_for,
        "warning",
        {
            "summary": "{{ $labels.target }} leaks {{ $labels.kind }} at {{ $labels.culprit }}",
            "description": (
                "leakhunter serve judges {{ $labels.target }} as leaking: {{ $labels.kind }} "
                f"grows {_GROWTH} at {{{{ $labels.culprit }}}}{rule}; "
                f"time to OOM: {_ttl(o)}. Report (stack, evidence, fix): {_report(o)}"
            ),
            "culprit": "{{ $labels.culprit }}",
            "rule": "{{ $labels.rule }}",
            "growth": _GROWTH,
            "time_to_oom": _ttl(o),
        },
        o,
    )


def _oom(o: MixinOptions) -> dict[str, Any]:
    expr = f"{series('leakhunter_time_to_oom_seconds', o)} < {number(o.oom_within)}\n"
    heap_leaks = _lookup(o, "leakhunter_finding_growth_per_second", 'kind="heap"')
    culprit = _query(f"topk(1, {heap_leaks})", 'label "culprit"', "an unnamed site")
    return _rule(
        "LeakhunterOutOfMemorySoon",
        expr,
        o.oom_for,
        "critical",
        {
            "summary": "{{ $labels.target }} runs out of memory in {{ $value | humanizeDuration }}",
            "description": (
                "At the leak rate leakhunter measures, {{ $labels.target }} reaches its memory "
                "limit in {{ $value | humanizeDuration }} (under "
                f"{prom_duration(o.oom_within)}); the heap grows fastest at {culprit}. "
                f"Live heap now: {_heap(o)}."
            ),
            "time_to_oom": "{{ $value | humanizeDuration }}",
        },
        o,
    )


def _full_window(o: MixinOptions, name: str) -> str:
    """Require one whole window of history: a fit over a target's first minutes is a warm-up."""
    return f"{series(name, o)} offset {o.window}"


def _goroutines(o: MixinOptions) -> dict[str, Any]:
    g = series("leakhunter_goroutines", o)
    expr = (
        f"3600 * deriv({g}[{o.window}]) > {number(o.goroutines_per_hour)}\n"
        f"  and\n{_full_window(o, 'leakhunter_goroutines')}\n"
    )
    now = _query(_lookup(o, "leakhunter_goroutines"), "value | humanize", "unknown")
    return _rule(
        "LeakhunterGoroutinesGrowing",
        expr,
        o.goroutines_for,
        "warning",
        {
            "summary": "{{ $labels.target }}: goroutines grow {{ $value | humanize }}/h",
            "description": (
                "The goroutine count of {{ $labels.target }} has risen by "
                f"{{{{ $value | humanize }}}} per hour (fitted over {o.window}) for "
                f"{prom_duration(o.goroutines_for)}; it is {now} now. When leakhunter also "
                "blames a site, LeakhunterLeakDetected names it."
            ),
            "growth": "{{ $value | humanize }} goroutines/h",
        },
        o,
    )


def _fds(o: MixinOptions) -> list[dict[str, Any]]:
    used, limit = series("leakhunter_open_fds", o), series("leakhunter_max_fds", o)
    slope = f"deriv({used}[{o.window}])"
    soon = (
        f"({limit} - {used}) / {slope} < {number(o.fd_within)}\n"
        f"  and\n{slope} > 0\n  and\n{_full_window(o, 'leakhunter_open_fds')}\n"
    )
    full = f"{used} / {limit} > {number(o.fd_ratio)}\n"
    return [
        _rule(
            "LeakhunterFdExhaustion",
            soon,
            o.fd_for,
            "warning",
            {
                "summary": (
                    "{{ $labels.target }} runs out of file descriptors in "
                    "{{ $value | humanizeDuration }}"
                ),
                "description": (
                    "Open descriptors of {{ $labels.target }} rise steadily (fitted over "
                    f"{o.window}); at this rate they reach the process's limit in "
                    "{{ $value | humanizeDuration }}. Look for files, sockets or response "
                    "bodies never closed."
                ),
            },
            o,
        ),
        _rule(
            "LeakhunterFdExhaustion",
            full,
            o.fd_for,
            "critical",
            {
                "summary": (
                    "{{ $labels.target }} uses {{ $value | humanizePercentage }} of its "
                    "file descriptors"
                ),
                "description": (
                    "{{ $labels.target }} has used more than "
                    f"{number(o.fd_ratio * 100)}% of its descriptor limit for "
                    f"{prom_duration(o.fd_for)}; new connections and files fail at the limit."
                ),
            },
            o,
        ),
    ]


def _down(o: MixinOptions) -> dict[str, Any]:
    return _rule(
        "LeakhunterTargetDown",
        f"{series('leakhunter_target_up', o)} == 0\n",
        o.down_for,
        "warning",
        {
            "summary": "leakhunter cannot scrape {{ $labels.target }}",
            "description": (
                "serve has had no answer from {{ $labels.target }} for "
                f"{prom_duration(o.down_for)}, so it has no verdict on it (a process that "
                "died out of memory looks like this too)."
            ),
        },
        o,
    )


def alert_rules(options: MixinOptions) -> dict[str, Any]:
    """Return the ``prometheus_alerts.yaml`` document (one group, every alert)."""
    rules = [_leak(options), _oom(options), _goroutines(options), *_fds(options)]
    rules.append(_down(options))
    return {"groups": [{"name": "leakhunter", "rules": rules}]}
