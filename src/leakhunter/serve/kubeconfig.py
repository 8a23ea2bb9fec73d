"""How serve reaches the Kubernetes API: the pod's service account, or a kubeconfig file.

In a cluster, the API is ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``
with the service account's token, CA and namespace under
``/var/run/secrets/kubernetes.io/serviceaccount``. Outside, a kubeconfig
(``--kubeconfig``, else ``$KUBECONFIG``, a list merged first-wins as kubectl
does, else ``~/.kube/config``) gives the current context's server,
``certificate-authority(-data)``, ``insecure-skip-tls-verify`` and a user's
``token``/``tokenFile``, ``client-certificate(-data)``/``client-key(-data)``
or ``username``/``password``. Credential plugins (``exec``,
``auth-provider``) are refused: serve does not run programs named in a config
file. Token files are re-read on every request, as bound service-account
tokens rotate (about hourly). Secrets never appear in a repr or a message.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from leakhunter.collect.fetch import Fetcher, FetchOptions
from leakhunter.serve.discovery import DiscoveryError
from leakhunter.serve.target_groups import GroupError, read_secret

__all__ = ["SERVICE_ACCOUNT", "KubeConfig", "from_kubeconfig", "in_cluster", "load_kube_config"]

#: Where Kubernetes mounts a pod's service-account credentials.
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class _Problem(ValueError):
    """A kubeconfig problem, one line; the public functions raise it as DiscoveryError."""


@dataclass(frozen=True)
class KubeConfig:
    """Where the API server is and how to authenticate to it (one context)."""

    server: str
    source: str
    namespace: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    ca_file: Path | None = None
    ca_data: str | None = field(default=None, repr=False)
    cert_file: Path | None = None
    key_file: Path | None = None
    cert_data: bytes | None = field(default=None, repr=False)
    key_data: bytes | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    insecure: bool = False

    def bearer_token(self) -> str | None:
        """Return the token, reading ``token_file`` afresh (rotated tokens).

        Raises:
            DiscoveryError: the token file cannot be read.
        """
        if self.token_file is None:
            return self.token
        try:
            return read_secret(self.token_file, "Kubernetes token file")
        except GroupError as exc:
            raise DiscoveryError(f"kubernetes ({self.source}): {exc}") from None

    def ssl_context(self) -> ssl.SSLContext:
        """Return a TLS context with the cluster's CA and the client certificate, if any.

        Raises:
            DiscoveryError: a CA or client certificate that cannot be loaded.
        """
        try:
            ctx = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file else None, cadata=self.ca_data
            )
            if self.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.cert_file or self.cert_data:
                _load_client_cert(ctx, self)
        except (OSError, ssl.SSLError, ValueError) as exc:
            files = ", ".join(
                f"{what} {path or 'data'}"
                for what, path, data in (
                    ("CA", self.ca_file, self.ca_data),
                    ("client certificate", self.cert_file, self.cert_data),
                    ("client key", self.key_file, self.key_data),
                )
                if path or data
            )
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise DiscoveryError(
                f"kubernetes ({self.source}): cannot load TLS files ({files}): {reason}"
            ) from None
        return ctx

    def fetcher(self, *, timeout: float = 10.0, max_bytes: int = 64 << 20) -> Fetcher:
        """Return a Fetcher for the API server (caller closes it)."""
        options = FetchOptions(
            timeout=timeout,
            retries=1,
            bearer_token=self.bearer_token(),
            basic_auth=self.basic_auth,
            max_bytes=max_bytes,
        )
        return Fetcher(options, transport=httpx.HTTPTransport(verify=self.ssl_context()))


def _load_client_cert(ctx: ssl.SSLContext, config: KubeConfig) -> None:
    """Load the client certificate; ssl reads files only, so -data goes through a private dir."""
    if config.cert_data is None and config.key_data is None:
        ctx.load_cert_chain(str(config.cert_file), str(config.key_file or config.cert_file))
        return
    with tempfile.TemporaryDirectory(prefix="leakhunter-kube-") as tmp:
        cert, key = str(config.cert_file or ""), str(config.key_file or "")
        for name, data in (("cert.pem", config.cert_data), ("key.pem", config.key_data)):
            if data is None:
                continue
            path = os.path.join(tmp, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            cert, key = (path, key) if name == "cert.pem" else (cert, path)
        ctx.load_cert_chain(cert, key or cert)


def in_cluster(env: Mapping[str, str] | None = None, root: Path = SERVICE_ACCOUNT) -> KubeConfig:
    """Return the in-cluster configuration (service-account token, CA, namespace).

    Raises:
        DiscoveryError: not in a pod (no KUBERNETES_SERVICE_HOST) or no token.
    """
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise DiscoveryError("kubernetes: not in a cluster (KUBERNETES_SERVICE_HOST is not set)")
    if not (root / "token").is_file():
        raise DiscoveryError(f"kubernetes: no service-account token at {root / 'token'}")
    namespace = None
    if (root / "namespace").is_file():
        namespace = (root / "namespace").read_text().strip() or None
    ca = root / "ca.crt"
    return KubeConfig(
        server=f"https://{f'[{host}]' if ':' in host else host}:{port}",
        source="in-cluster",
        namespace=namespace,
        token_file=root / "token",
        ca_file=ca if ca.is_file() else None,
    )


def _named(doc: Mapping[str, object], key: str) -> dict[str, Mapping[str, object]]:
    """Return a kubeconfig list (clusters, contexts, users) as name -> body."""
    out: dict[str, Mapping[str, object]] = {}
    entries = doc.get(key) or []
    if not isinstance(entries, list):
        raise _Problem(f"{key} is not a list")
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            body = entry.get(key[:-1]) or {}  # clusters -> cluster
            if isinstance(body, dict):
                out.setdefault(entry["name"], body)
    return out


def _merged(paths: Sequence[Path]) -> tuple[dict[str, dict[str, Mapping[str, object]]], str]:
    """Read kubeconfig files; the first file naming an entry (or current-context) wins."""
    merged: dict[str, dict[str, Mapping[str, object]]] = {
        "clusters": {},
        "contexts": {},
        "users": {},
    }
    current = ""
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise _Problem(f"cannot read {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark else ""
            raise _Problem(f"{path}: not valid YAML{where}") from None
        if not isinstance(doc, dict):
            raise _Problem(f"{path}: not a kubeconfig (a mapping)")
        for key, table in merged.items():
            for name, body in _named(doc, key).items():
                # relative file paths in an entry are relative to its own file
                table.setdefault(name, {**body, "__dir__": str(path.parent)})
        current = current or str(doc.get("current-context") or "")
    return merged, current


def _data(value: object, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise _Problem(f"{what} is not base64") from None


def _path(body: Mapping[str, object], key: str) -> Path | None:
    value = body.get(key)
    return Path(str(body["__dir__"])) / str(value) if value else None


def from_kubeconfig(paths: Path | Sequence[Path], context: str | None = None) -> KubeConfig:
    """Return one context of kubeconfig files (default: the current context).

    Raises:
        DiscoveryError: unreadable files, a missing context/cluster/user, a
            credential plugin, or bad base64 data.
    """
    files = [paths] if isinstance(paths, Path) else list(paths)
    source = f"kubeconfig {os.pathsep.join(map(str, files))}"
    try:
        merged, current = _merged(files)
        name = context or current
        if not name:
            raise _Problem("no current-context (name a context)")
        ctx = merged["contexts"].get(name)
        if ctx is None:
            raise _Problem(f"no context {name!r}")
        source = f"{source}, context {name}"
        cluster = merged["clusters"].get(str(ctx.get("cluster", "")))
        if cluster is None or not cluster.get("server"):
            raise _Problem(f"context {name!r}: no cluster with a server")
        user = merged["users"].get(str(ctx.get("user", "")), {})
        for plugin in ("exec", "auth-provider"):
            if user.get(plugin):
                raise _Problem(
                    f"the user uses an {plugin} credential plugin, which serve does not run; "
                    "give it a token or a client certificate"
                )
        ca_data = cluster.get("certificate-authority-data")
        cert_data, key_data = user.get("client-certificate-data"), user.get("client-key-data")
        username, password = user.get("username"), user.get("password")
        return KubeConfig(
            server=str(cluster["server"]).rstrip("/"),
            source=source,
            namespace=str(ctx.get("namespace") or "") or None,
            token=str(user["token"]) if user.get("token") else None,
            token_file=_path(user, "tokenFile"),
            ca_file=_path(cluster, "certificate-authority"),
            ca_data=_data(ca_data, "certificate-authority-data").decode() if ca_data else None,
            cert_file=_path(user, "client-certificate"),
            key_file=_path(user, "client-key"),
            cert_data=_data(cert_data, "client-certificate-data") if cert_data else None,
            key_data=_data(key_data, "client-key-data") if key_data else None,
            basic_auth=(str(username), str(password or "")) if username else None,
            insecure=cluster.get("insecure-skip-tls-verify") is True,
        )
    except _Problem as exc:
        raise DiscoveryError(f"kubernetes ({source}): {exc}") from None


def load_kube_config(
    kubeconfig: str | os.PathLike[str] | None = None,
    *,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
    root: Path = SERVICE_ACCOUNT,
) -> KubeConfig:
    """Return the configuration kubectl would use: the file given, in-cluster, $KUBECONFIG, ~.

    Raises:
        DiscoveryError: nothing found, or what was found cannot be used.
    """
    env = os.environ if env is None else env
    if kubeconfig is not None:
        return from_kubeconfig(Path(kubeconfig), context)
    if env.get("KUBERNETES_SERVICE_HOST") and (root / "token").is_file():
        return in_cluster(env, root)
    listed = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    existing = [p for p in listed if p.is_file()]
    if existing:
        return from_kubeconfig(existing, context)
    home = Path(env.get("HOME", str(Path.home()))) / ".kube" / "config"
    if home.is_file():
        return from_kubeconfig(home, context)
    raise DiscoveryError(
        "kubernetes: no configuration: not in a cluster (no KUBERNETES_SERVICE_HOST and "
        "service-account token) and no kubeconfig ($KUBECONFIG, ~/.kube/config)"
    )
