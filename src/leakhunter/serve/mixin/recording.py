"""The mixin's recording rules: what the dashboard would otherwise recompute per viewer.

The fleet counts join three families over every target, and the tables join
findings with their target's time-to-OOM; done once per evaluation here, a
dashboard left open on a wall costs Prometheus one cheap lookup per panel.
The alerts do not use these series (they stay correct with the alert file
alone); the dashboard does, so load both files.

Names follow the ``level:metric:operations`` convention of the
monitoring-mixins; the window is part of a name because it changes the number.
"""

from __future__ import annotations

from typing import Any

from leakhunter.serve.mixin.options import MixinOptions, series

__all__ = ["TARGET_STATUSES", "growth_rule", "recording_rules"]

#: the fleet states the counts use; serve exports no "pending" state, so a target
#: in its warm-up counts as ok until it leaks
TARGET_STATUSES = ("leak", "suspect", "down", "ok")
FINDING_GROWTH = "leakhunter:finding_leak:growth_per_hour"
FINDING_TTL = "leakhunter:finding_leak:time_to_oom_seconds"
#: the labels a finding series has beyond its target's
FINDING_LABELS = "kind, culprit, rule"


def growth_rule(metric: str, options: MixinOptions) -> str:
    """Return the recorded name of a gauge's growth per hour.

    For example "leakhunter:goroutines_per_hour:deriv30m".
    """
    return f"leakhunter:{metric.removeprefix('leakhunter_')}_per_hour:deriv{options.window}"


def _counts(o: MixinOptions) -> list[dict[str, Any]]:
    leak, up = series("leakhunter_leak", o), series("leakhunter_target_up", o)
    suspects = f"max without ({FINDING_LABELS}) ({series('leakhunter_finding_leak', o)} == 0)"
    exprs = {
        "leak": f"{leak} == 1 unless {up} == 0",
        "suspect": f"{suspects} unless {leak} == 1 unless {up} == 0",
        "down": f"{up} == 0",
        "ok": f"{leak} == 0 unless {up} == 0 unless {suspects}",
    }
    return [
        {
            "record": "leakhunter:targets:count",
            "expr": f"count({exprs[status]}) or vector(0)",
            "labels": {"status": status},
        }
        for status in TARGET_STATUSES
    ]


def recording_rules(options: MixinOptions) -> dict[str, Any]:
    """Return the ``prometheus_rules.yaml`` document."""
    o = options
    growth = series("leakhunter_finding_growth_per_second", o)
    leak = series("leakhunter_finding_leak", o)
    rules = _counts(o)
    rules.append(
        {"record": FINDING_GROWTH, "expr": f"3600 * {growth} and ignoring (unit) {leak} == 1"}
    )
    # one row per leak finding with its target's time-to-OOM: the labels of the finding
    # (group_right), the value of the target; clamp(x, 1, 1) is a 1 with x's labels
    rules.append(
        {
            "record": FINDING_TTL,
            "expr": (
                f"{series('leakhunter_time_to_oom_seconds', o)}\n"
                f"  * ignoring ({FINDING_LABELS}, unit) group_right ()\n"
                f"clamp({series(FINDING_GROWTH, o)}, 1, 1)"
            ),
        }
    )
    for metric in ("leakhunter_heap_live_bytes", "leakhunter_goroutines", "leakhunter_open_fds"):
        rules.append(
            {
                "record": growth_rule(metric, o),
                "expr": f"3600 * deriv({series(metric, o)}[{o.window}])",
            }
        )
    return {"groups": [{"name": "leakhunter.rules", "rules": rules}]}
