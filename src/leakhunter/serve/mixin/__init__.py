"""``leakhunter mixin``: serve's alerts, recording rules and Grafana dashboard, as code.

The monitoring-mixin convention: ``prometheus_alerts.yaml``,
``prometheus_rules.yaml`` and ``dashboards/leakhunter.json``, all generated
from one :class:`MixinOptions` (``options``). ``alerts``, ``recording`` and
``dashboard`` build plain documents; ``write`` turns them into files.
"""

from __future__ import annotations

from leakhunter.serve.mixin.options import MixinOptions
from leakhunter.serve.mixin.write import MIXIN_FILES, render_mixin, write_mixin

__all__ = ["MIXIN_FILES", "MixinOptions", "render_mixin", "write_mixin"]
