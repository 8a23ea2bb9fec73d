"""Kubernetes pod discovery against recorded v1 PodList answers served on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from leakhunter.collect.fetch import FetchOptions
from leakhunter.harness.fake import FakeServer, Reply, Request
from leakhunter.serve.discovery import DiscoveryError
from leakhunter.serve.kubeconfig import KubeConfig, from_kubeconfig, in_cluster, load_kube_config
from leakhunter.serve.kubernetes import KubernetesSD, pod_targets
from leakhunter.serve.targets import TargetSpec

DATA = Path(__file__).parent / "data" / "kubernetes"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.sa-token-SECRET"
CI_TOKEN = "ci-bot-token-8c1f0e"  # the fixture kubeconfig's


def recorded(name: str) -> bytes:
    return (DATA / name).read_bytes()


def status(code: int, name: str) -> Reply:
    return Reply(code, recorded(name), (("Content-Type", "application/json"),))


class Api:
    """A fake API server answering pod lists from the recordings, checking auth and paths."""

    def __init__(self, server: FakeServer, token: str = TOKEN) -> None:
        self.server = server
        self.token = token
        page1 = json.loads(recorded("pods-all-page1.json"))
        self.continue_token = page1["metadata"]["continue"]
        server.routes["/api/v1/pods"] = self.all_pods
        server.routes["/api/v1/namespaces/shop/pods"] = self.guarded(
            lambda r: Reply(200, recorded("pods-shop.json"))
        )
        server.routes["/api/v1/namespaces/locked/pods"] = self.guarded(
            lambda r: status(403, "status-forbidden.json")
        )

    def guarded(self, inner: object) -> object:
        def handle(req: Request) -> Reply:
            if req.headers.get("authorization") != f"Bearer {self.token}":
                return Reply(401, b'{"kind":"Status","message":"Unauthorized","code":401}')
            return inner(req)  # type: ignore[operator]

        return handle

    def all_pods(self, req: Request) -> Reply:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, b'{"kind":"Status","message":"Unauthorized","code":401}')
        query = parse_qs(req.query)
        if query.get("limit") != ["500"]:
            return Reply(400, b"expected limit=500")
        cont = query.get("continue", [""])[0]
        if cont == "":
            return Reply(200, recorded("pods-all-page1.json"))
        if cont == self.continue_token:
            return Reply(200, recorded("pods-all-page2.json"))
        return status(410, "status-expired.json")


@pytest.fixture
def api() -> Iterator[Api]:
    with FakeServer() as srv:
        yield Api(srv)


def config(api: Api, token: str = TOKEN) -> KubeConfig:
    return KubeConfig(server=api.server.url, source="test", token=token)


def summary(specs: list[TargetSpec] | None) -> dict[str, dict[str, str]]:
    assert specs is not None
    return {s.url: dict(s.labels) for s in specs}


EXPECTED_ALL = {
    "http://10.244.1.17:6060": {
        "namespace": "shop",
        "pod": "cart-7d9f8b6c5-qh4bt",
        "node": "worker-1",
        "container": "cart",
        "app": "cart",
    },
    "http://10.244.2.31:8081": {
        "namespace": "shop",
        "pod": "checkout-5c6b7d8f9-x2kzp",
        "node": "worker-2",
        "container": "checkout",
        "app": "checkout",
    },
    "https://10.244.3.8:8443/admin": {
        "namespace": "shop",
        "pod": "search-0",
        "node": "worker-3",
        "container": "search",
        "app": "search",
    },
    "http://10.244.1.40:12345": {
        "namespace": "monitoring",
        "pod": "alloy-6d4f5c7b8-p7r2n",
        "node": "worker-1",
        "container": "alloy",
        "app": "alloy",
    },
    "http://[fd00:10:244:1::1a]:6061": {
        "namespace": "edge",
        "pod": "gateway-5f6d7c8b9-v4hxm",
        "node": "worker-1",
        "container": "gateway",
        "app": "gateway",
    },
}


def test_all_namespaces_over_two_pages(api: Api) -> None:
    sd = KubernetesSD(config(api))
    specs = sd.poll()
    assert summary(specs) == EXPECTED_ALL
    assert specs is not None
    by_url = {s.url: s for s in specs}
    assert by_url["http://10.244.1.17:6060"].interval == 30.0
    assert {s.interval for s in specs if "6060" not in s.url} == {None}
    assert {s.source for s in specs} == {"kubernetes"} and sd.name == "kubernetes"
    assert sd.interval == 30.0
    warned = "\n".join(sd.warnings)
    assert len(sd.warnings) == 3, warned
    assert "pod shop/legacy-import-7b8c9d-zt5lq: no container port" in warned
    assert "pod shop/reports-api-84c7f9d6b-9sdlj: profiles.grafana.com/memory.path" in warned
    assert "pod edge/grpc-bridge-7c9d8e6f5-lm3np: scheme 'grpc' is not http or https" in warned
    # skipped quietly: Pending, Succeeded, not annotated, opted out
    for quiet in ("payments", "nightly-report", "coredns", "cart-7d9f8b6c5-wn6fd"):
        assert quiet not in warned and all(quiet not in s.labels["pod"] for s in specs)
    pages = [r for r in api.server.requests if r.path == "/api/v1/pods"]
    assert [parse_qs(r.query).get("continue") for r in pages] == [None, [api.continue_token]]


def test_unchanged_cluster_polls_none(api: Api) -> None:
    sd = KubernetesSD(config(api))
    assert sd.poll() is not None
    assert sd.poll() is None
    assert api.server.hits("/api/v1/pods") == 4  # it did ask again


def test_namespace_and_label_selector(api: Api) -> None:
    sd = KubernetesSD(config(api), namespaces=["shop"], label_selector="tier in (web),app!=x")
    assert set(summary(sd.poll())) == {
        "http://10.244.1.17:6060",
        "http://10.244.2.31:8081",
        "https://10.244.3.8:8443/admin",
    }
    (req,) = api.server.requests
    assert req.path == "/api/v1/namespaces/shop/pods"
    assert parse_qs(req.query)["labelSelector"] == ["tier in (web),app!=x"]


def test_api_refusals_are_one_line_without_the_token(api: Api) -> None:
    for sd, expected in (
        (KubernetesSD(config(api, token="wrong-" + TOKEN)), "HTTP 401"),
        (KubernetesSD(config(api), namespaces=["locked"]), "pods is forbidden"),
    ):
        with pytest.raises(DiscoveryError) as info:
            sd.poll()
        msg = str(info.value)
        assert expected in msg and "\n" not in msg and TOKEN not in msg
        assert msg.startswith("kubernetes (test): GET ")


def test_an_expired_continue_token_fails_the_poll(api: Api) -> None:
    api.continue_token = "something-else"
    with pytest.raises(DiscoveryError, match="HTTP 410"):
        KubernetesSD(config(api)).poll()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>proxy login</html>", "answer is not JSON"),
        (b'{"kind": "Status", "status": "Success"}', "not a PodList (found Status)"),
        (b"[]", "not a PodList (found list)"),
        (b'{"kind": "PodList", "items": {}}', "items is not a list"),
    ],
)
def test_answers_that_are_not_pod_lists(body: bytes, expected: str) -> None:
    with FakeServer({"/api/v1/pods": lambda r: Reply(200, body)}) as srv:
        sd = KubernetesSD(KubeConfig(server=srv.url, source="test"))
        with pytest.raises(DiscoveryError) as info:
            sd.poll()
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_token_file_is_reread_each_poll(api: Api, tmp_path: Path) -> None:
    tok = tmp_path / "token"
    tok.write_text(TOKEN + "\n")
    sd = KubernetesSD(KubeConfig(server=api.server.url, source="test", token_file=tok))
    assert sd.poll() is not None
    api.token = "rotated-token"
    tok.write_text("rotated-token")
    assert sd.poll() is None  # authorised with the new token, same pods
    assert api.server.requests[-1].headers["authorization"] == "Bearer rotated-token"


def test_targets_never_get_the_cluster_credentials(api: Api) -> None:
    defaults = FetchOptions(timeout=4.0, headers=(("X-Team", "sre"),))
    specs = KubernetesSD(config(api), defaults=defaults).poll() or []
    assert specs and all(s.fetch == defaults for s in specs)
    assert all(TOKEN not in repr(s) and s.fetch.bearer_token is None for s in specs)
    assert TOKEN not in repr(config(api))


# -- pod rules on hand-made pods ---------------------------------------------------------


def make_pod(
    name: str, annotations: dict[str, str], ports: list[dict[str, object]], ip: str = "10.1.0.9"
) -> dict[str, object]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "annotations": annotations,
            "labels": {"app": name},
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "main", "ports": ports}]},
        "status": {"phase": "Running", "podIP": ip},
    }


def test_pyroscope_port_wins_over_port_name_and_defaults_pick_pprof() -> None:
    ports = [
        {"name": "grpc", "containerPort": 9000, "protocol": "TCP"},
        {"name": "http", "containerPort": 8080},
        {"name": "pprof", "containerPort": 6060, "protocol": "TCP"},
        {"name": "syslog", "containerPort": 514, "protocol": "UDP"},
    ]
    pods = [
        make_pod(
            "a",
            {
                "profiles.grafana.com/goroutine.scrape": "true",
                "profiles.grafana.com/goroutine.port": "7777",
                "profiles.grafana.com/goroutine.port_name": "http",
            },
            ports,
            "10.1.0.1",
        ),
        make_pod("b", {"leakhunter.io/scrape": "true"}, ports, "10.1.0.2"),
        make_pod("c", {"leakhunter.io/scrape": "true"}, ports[:2], "10.1.0.3"),
        make_pod("d", {"leakhunter.io/scrape": "true"}, [ports[0], ports[3]], "10.1.0.4"),
        make_pod("e", {"leakhunter.io/scrape": "true"}, [ports[3]], "10.1.0.5"),
        make_pod(
            "f", {"leakhunter.io/scrape": "true", "leakhunter.io/port": "99999"}, ports, "10.1.0.6"
        ),
        make_pod(
            "g",
            {
                "profiles.grafana.com/memory.scrape": "true",
                "profiles.grafana.com/memory.port_name": "metrics",
            },
            ports,
            "10.1.0.7",
        ),
        make_pod(
            "h",
            {"leakhunter.io/scrape": "true", "leakhunter.io/interval": "often"},
            ports,
            "10.1.0.8",
        ),
        make_pod(
            "i",
            {
                "profiles.grafana.com/memory.scrape": "true",
                "profiles.grafana.com/memory.path": "/svc/debug/pprof/allocs",
                "profiles.grafana.com/memory.scheme": "https",
            },
            ports,
            "10.1.0.9",
        ),
    ]
    specs, notes = pod_targets(pods)
    assert [s.url for s in specs] == [
        "http://10.1.0.1:7777",
        "http://10.1.0.2:6060",
        "http://10.1.0.3:8080",
        "http://10.1.0.4:9000",
        "https://10.1.0.9:6060/svc",
    ]
    assert notes == [
        "pod ns/e: no container port: set a port annotation or declare a containerPort; skipped",
        "pod ns/f: port '99999' is not a port number; skipped",
        "pod ns/g: no container port named 'metrics'; skipped",
        "pod ns/h: leakhunter.io/interval: not a duration: 'often' (use e.g. 15s, 10m, 1h)"
        "; skipped",
    ]


def test_host_network_pods_sharing_an_address_first_wins() -> None:
    ann = {"leakhunter.io/scrape": "true", "leakhunter.io/port": "9100"}
    pods = [
        make_pod("agent-a", ann, [], "172.18.0.3"),
        make_pod("agent-b", ann, [], "172.18.0.3"),
        "junk",
    ]
    specs, notes = pod_targets(pods)
    assert [s.labels["pod"] for s in specs] == ["agent-a"]
    assert notes == ["pod ns/agent-b: http://172.18.0.3:9100 is already pod ns/agent-a's; skipped"]


# -- configuration: in-cluster and kubeconfig --------------------------------------------


def service_account(tmp_path: Path, namespace: str = "monitoring") -> Path:
    root = tmp_path / "serviceaccount"
    root.mkdir()
    (root / "token").write_text(TOKEN)
    (root / "namespace").write_text(namespace)
    return root


def test_in_cluster_config(tmp_path: Path, api: Api) -> None:
    root = service_account(tmp_path)
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = in_cluster(env, root)
    assert cfg.server == "https://10.96.0.1:443" and cfg.namespace == "monitoring"
    assert cfg.token_file == root / "token" and cfg.bearer_token() == TOKEN
    assert cfg.ca_file is None and TOKEN not in repr(cfg)
    v6 = in_cluster({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, root)
    assert v6.server == "https://[fd00::1]:6443"
    with pytest.raises(DiscoveryError, match="not in a cluster"):
        in_cluster({}, root)
    # the in-cluster credentials against the local API (plain HTTP stands in for the server)
    local = KubeConfig(server=api.server.url, source="in-cluster", token_file=cfg.token_file)
    assert summary(KubernetesSD(local).poll()) == EXPECTED_ALL


def kubeconfig(tmp_path: Path, replace: dict[str, str]) -> Path:
    text = (DATA / "kubeconfig.yaml").read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "config"
    path.write_text(text)
    return path


def test_kubeconfig_token_context_against_the_local_api(tmp_path: Path) -> None:
    with FakeServer() as srv:
        api = Api(srv, token=CI_TOKEN)
        path = kubeconfig(tmp_path, {"http://127.0.0.1:8001": srv.url})
        cfg = load_kube_config(path)
        assert cfg.server == srv.url and cfg.namespace is None and cfg.insecure
        assert cfg.source == f"kubeconfig {path}, context ci"
        assert CI_TOKEN not in repr(cfg)
        assert summary(KubernetesSD(cfg).poll()) == EXPECTED_ALL
        assert api.server.requests[0].headers["authorization"] == f"Bearer {CI_TOKEN}"


def test_kubeconfig_refusals(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, {})
    with pytest.raises(DiscoveryError, match="exec credential plugin, which serve does not run"):
        from_kubeconfig(path, "gke_acme-prod_europe-west1_prod")
    with pytest.raises(DiscoveryError, match="no context 'nope'"):
        from_kubeconfig(path, "nope")
    with pytest.raises(DiscoveryError, match="certificate-authority-data is not base64"):
        from_kubeconfig(path, "kind-dev")
    (tmp_path / "bad").write_text("clusters: [\n")
    with pytest.raises(DiscoveryError, match="not valid YAML"):
        from_kubeconfig(tmp_path / "bad")
    with pytest.raises(DiscoveryError, match="cannot read"):
        from_kubeconfig(tmp_path / "missing")


def test_load_kube_config_precedence(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, {})
    root = service_account(tmp_path)
    in_pod = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert load_kube_config(env=in_pod, root=root).source == "in-cluster"
    assert load_kube_config(path, env=in_pod, root=root).source.startswith("kubeconfig")
    # $KUBECONFIG lists files merged first-wins: an override file switches the context
    override = tmp_path / "override"
    override.write_text("current-context: nope-not-here\n")
    env = {"KUBECONFIG": f"{tmp_path / 'absent'}:{override}:{path}", "HOME": str(tmp_path)}
    with pytest.raises(DiscoveryError, match="no context 'nope-not-here'"):
        load_kube_config(env=env, root=root)
    override.write_text(
        "contexts:\n- name: ci\n  context: {cluster: ci, user: ci-bot, namespace: qa}\n"
    )
    assert load_kube_config(env=env, root=root).namespace == "qa"
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    shutil.copy(path, home / ".kube" / "config")
    assert load_kube_config(env={"HOME": str(home)}, root=root).server == "http://127.0.0.1:8001"
    with pytest.raises(DiscoveryError, match="no configuration"):
        load_kube_config(env={"HOME": str(tmp_path / "nobody")}, root=root)


# -- TLS with a client certificate (kind's kubeconfig shape) -----------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found: cannot make test certificates")
    d = tmp_path_factory.mktemp("pki")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=kubernetes",
    )
    for name, subj, ext in (
        ("server", "/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1"),
        ("client", "/O=system:masters/CN=kind-admin", "extendedKeyUsage=clientAuth"),
    ):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            subj,
        )
        (d / f"{name}.ext").write_text(ext + "\n")
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            f"{name}.crt",
            "-extfile",
            f"{name}.ext",
        )
    return d


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_client_certificate_data_over_mutual_tls(tmp_path: Path, pki: Path) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    ctx.load_verify_locations(pki / "ca.crt")
    ctx.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no answer
    routes = {"/api/v1/namespaces/shop/pods": lambda r: Reply(200, recorded("pods-shop.json"))}
    with FakeServer(routes, tls=ctx) as srv:
        path = kubeconfig(
            tmp_path,
            {
                "https://127.0.0.1:6443": srv.url,
                "CA_DATA": b64(pki / "ca.crt"),
                "CLIENT_CERT_DATA": b64(pki / "client.crt"),
                "CLIENT_KEY_DATA": b64(pki / "client.key"),
            },
        )
        cfg = from_kubeconfig(path, "kind-dev")
        assert cfg.namespace == "shop" and cfg.cert_data is not None
        assert b64(pki / "client.key") not in repr(cfg)
        sd = KubernetesSD(cfg, namespaces=[cfg.namespace or ""])
        assert len(summary(sd.poll())) == 3
        # the same server refuses a client without the certificate
        bare = KubeConfig(server=srv.url, source="no-cert", ca_data=cfg.ca_data)
        with pytest.raises(DiscoveryError) as info:
            KubernetesSD(bare, namespaces=["shop"]).poll()
        assert "certificate required" in str(info.value) and "\n" not in str(info.value)
        missing = KubeConfig(server=srv.url, source="x", cert_file=tmp_path / "gone.crt")
        with pytest.raises(
            DiscoveryError, match=r"cannot load TLS files \(client certificate .*gone.crt\)"
        ):
            KubernetesSD(missing).poll()
        # and a client that does not trust the server's CA refuses it
        with pytest.raises(DiscoveryError, match="TLS error"):
            KubernetesSD(KubeConfig(server=srv.url, source="x"), namespaces=["shop"]).poll()
