"""The mixin's settings and the small PromQL/Prometheus spellings every part shares.

One frozen :class:`MixinOptions` feeds the alerts, the recording rules and the
dashboard alike (as kubernetes-mixin's ``_config`` does), so a threshold
changed on the command line changes the alert and the panel that explains it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["MixinOptions", "number", "prom_duration", "series"]

#: the link a leak alert carries when no --serve-url is given: the serve that
#: Prometheus scraped the series from (``instance``), which is right for a
#: fleet of sharded serves too, as long as Prometheus reaches them as users do
DEFAULT_SERVE_URL = "http://{{ $labels.instance }}"
_UNITS = (("d", 86400_000), ("h", 3600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_MATCHER = re.compile(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*')


@dataclass(frozen=True)
class MixinOptions:
    """Thresholds, ``for:`` durations and links of the generated alerts and dashboard.

    ``selector`` (e.g. ``job="leakhunter"``) is added to every series the rules
    and panels read, so two Prometheus jobs of serve can be told apart.
    ``deriv_window`` is the range ``deriv`` fits its line over (goroutines,
    descriptors, the dashboard's growth rules); the growth alerts also wait for
    one whole window of history, so a target's first minutes (its warm-up)
    never stand alone in the fit.
    """

    serve_url: str = DEFAULT_SERVE_URL
    selector: str = ""
    runbook_url: str = ""
    leak_for: float = 300.0
    oom_within: float = 4 * 3600.0
    oom_for: float = 600.0
    deriv_window: float = 1800.0
    goroutines_per_hour: float = 100.0
    goroutines_for: float = 1800.0
    fd_ratio: float = 0.9
    fd_within: float = 4 * 3600.0
    fd_for: float = 1800.0
    down_for: float = 300.0

    def __post_init__(self) -> None:
        """Refuse settings Prometheus would refuse later, where the mistake is clear."""
        bad = "`" in self.selector or not all(_MATCHER.fullmatch(m) for m in _split(self.selector))
        if self.selector and bad:
            raise ValueError(
                f'selector {self.selector!r}: want label matchers like job="leakhunter", '
                "comma-separated, without braces"
            )
        if not self.serve_url.startswith(("http://", "https://")):
            raise ValueError(f"serve URL {self.serve_url!r}: want http:// or https://")
        if not 0.0 < self.fd_ratio <= 1.0:
            raise ValueError(f"fd ratio {self.fd_ratio}: want a fraction in (0, 1]")
        if self.deriv_window < 1.0:
            raise ValueError("the deriv window must be at least 1s")
        for name in ("goroutines_per_hour", "oom_within", "fd_within"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name.replace('_', ' ')} must be positive")

    @property
    def window(self) -> str:
        """Return the deriv window as a Prometheus duration ("30m")."""
        return prom_duration(self.deriv_window)


def _split(selector: str) -> list[str]:
    """Split matchers at commas outside quoted values."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in selector:
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
    parts.append("".join(current))
    return parts


def prom_duration(seconds: float) -> str:
    """Spell seconds as a Prometheus duration: 5400 -> "1h30m", 1.5 -> "1s500ms", 0 -> "0s"."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {seconds!r}")
    left = round(seconds * 1000)
    out = []
    for unit, ms in _UNITS:
        n, left = divmod(left, ms)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"


def number(value: float) -> str:
    """Spell a threshold as a PromQL number literal (no float noise: 0.9, 14400)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite threshold: {value!r}")
    return f"{value:.12g}"


def series(name: str, options: MixinOptions, *matchers: str) -> str:
    """Return a selector of metric ``name`` with the mixin's selector and extra matchers."""
    inner = ", ".join(m for m in (options.selector.strip(), *matchers) if m)
    return f"{name}{{{inner}}}" if inner else name
