"""deploy/kubernetes: the manifests parse, carry what Kubernetes requires, and agree.

No cluster runs here, so these are validated, not applied: every document
parses and has its required fields; the StatefulSet's replicas equal the N of
its ``--shard ordinal/N`` and the serve arguments parse with serve's own
parser; the Service, the ServiceMonitor and the StatefulSet select the same
pods; RBAC lets the service account list pods; and the PrometheusRule and the
dashboard ConfigMap are exactly what ``leakhunter mixin --operator`` writes
today (regenerate them when the mixin changes).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from leakhunter.cli.serve import ServeCommand, parse_shard
from leakhunter.serve.mixin.options import MixinOptions
from leakhunter.serve.mixin.write import render_mixin

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"


def _docs() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out[doc["kind"]] = doc
    return out


def test_every_document_has_its_required_fields() -> None:
    docs = _docs()
    assert set(docs) >= {
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "StatefulSet",
        "ServiceMonitor", "PrometheusRule", "ConfigMap",
    }  # fmt: skip
    for kind, doc in docs.items():
        assert doc["apiVersion"] and doc["metadata"]["name"], kind
        if kind not in ("ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == "monitoring", kind


def test_the_shards_are_wired_to_the_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "leakhunter-1")  # a replica's name
    sts = _docs()["StatefulSet"]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[0] == "serve"
    parser = argparse.ArgumentParser()
    ServeCommand().add_arguments(parser)
    ns = parser.parse_args(args[1:])
    assert ns.shard == (2, sts["spec"]["replicas"])
    i, n = parse_shard("ordinal/" + args[args.index("--shard") + 1].split("/")[1], "leakhunter-0")
    assert n == sts["spec"]["replicas"] and i == 1
    for ordinal in range(n):  # every replica gets its own shard, all of them covered
        assert parse_shard(args[args.index("--shard") + 1], f"leakhunter-{ordinal}") == (
            ordinal + 1,
            n,
        )
    assert ns.kubernetes and ns.token_file  # off loopback serve needs the token
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(Path(ns.token_file).parent) in mounts and ns.data in mounts


def test_selectors_agree_and_rbac_lists_pods() -> None:
    docs = _docs()
    pod_labels = docs["StatefulSet"]["spec"]["template"]["metadata"]["labels"]
    assert docs["StatefulSet"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= pod_labels.items()
    svc_labels = docs["Service"]["metadata"]["labels"]
    assert docs["ServiceMonitor"]["spec"]["selector"]["matchLabels"].items() <= svc_labels.items()
    port = docs["ServiceMonitor"]["spec"]["endpoints"][0]["port"]
    assert port in {p["name"] for p in docs["Service"]["spec"]["ports"]}
    (rule,) = docs["ClusterRole"]["rules"]
    assert "pods" in rule["resources"] and {"list", "get"} <= set(rule["verbs"])
    subject = docs["ClusterRoleBinding"]["subjects"][0]
    sa = docs["StatefulSet"]["spec"]["template"]["spec"]["serviceAccountName"]
    assert subject["name"] == sa == docs["ServiceAccount"]["metadata"]["name"]


def test_the_operator_resources_are_the_mixin_of_today() -> None:
    files = render_mixin(MixinOptions(), operator="monitoring")
    for name in ("kubernetes/prometheusrule.yaml", "kubernetes/dashboard-configmap.yaml"):
        assert (DEPLOY.parent / name).read_text() == files[name], (
            f"deploy/{name} is stale: run `leakhunter mixin --out deploy --operator monitoring`"
        )
