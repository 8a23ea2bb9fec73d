"""The mixin for the Prometheus Operator: a PrometheusRule and a dashboard ConfigMap.

Teams on Kubernetes load rules through the Operator's ``PrometheusRule``
resource and dashboards through Grafana's sidecar, which picks up ConfigMaps
labelled ``grafana_dashboard: "1"``. Both wrap the very documents the plain
mixin writes (the same groups, the same dashboard JSON), so the two never
drift; ``deploy/kubernetes/`` holds them as generated for the defaults.
"""

from __future__ import annotations

import json
from typing import Any

from leakhunter.serve.mixin.alerts import alert_rules
from leakhunter.serve.mixin.dashboard import dashboard
from leakhunter.serve.mixin.options import MixinOptions
from leakhunter.serve.mixin.recording import recording_rules

__all__ = ["OPERATOR_FILES", "dashboard_configmap", "prometheus_rule"]

OPERATOR_FILES = ("kubernetes/prometheusrule.yaml", "kubernetes/dashboard-configmap.yaml")
_LABELS = {"app.kubernetes.io/name": "leakhunter", "app.kubernetes.io/component": "serve"}


def prometheus_rule(options: MixinOptions, namespace: str) -> dict[str, Any]:
    """Return a monitoring.coreos.com/v1 PrometheusRule holding every group of the mixin."""
    groups = alert_rules(options)["groups"] + recording_rules(options)["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "leakhunter", "namespace": namespace, "labels": dict(_LABELS)},
        "spec": {"groups": groups},
    }


def dashboard_configmap(options: MixinOptions, namespace: str) -> dict[str, Any]:
    """Return a ConfigMap Grafana's dashboard sidecar loads (label grafana_dashboard)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "leakhunter-dashboard",
            "namespace": namespace,
            "labels": {**_LABELS, "grafana_dashboard": "1"},
        },
        "data": {"leakhunter.json": json.dumps(dashboard(options), indent=2) + "\n"},
    }
