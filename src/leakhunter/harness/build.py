"""Build the zoo binary once per source state, cached by a hash of its inputs.

The zoo (``zoo/`` at the repository root) is one Go binary with every scenario.
It is built with ``GOEXPERIMENT=goroutineleakprofile`` so it serves
``/debug/pprof/goroutineleak``, and cached under ``$LEAKHUNTER_CACHE/zoo`` (default
``~/.cache/leakhunter/zoo``) as ``zoo-<hash>``, where the hash covers every built
``*.go`` file, go.mod, go.sum, the Go version and the experiment. Concurrent
builders (parallel test workers) serialise on a lock file and reuse the result.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from leakhunter.errors import LeakhunterError

__all__ = [
    "GO_EXPERIMENT",
    "GoNotFoundError",
    "ZooBuildError",
    "build_zoo",
    "cache_dir",
    "find_go",
    "go_version",
    "source_hash",
    "zoo_dir",
]

GO_EXPERIMENT = "goroutineleakprofile"
_BUILD_TIMEOUT = 900.0


class GoNotFoundError(LeakhunterError):
    """The Go toolchain is not installed (or too old to build the zoo)."""


class ZooBuildError(LeakhunterError):
    """``go build`` of the zoo failed, or the zoo sources cannot be found."""


def zoo_dir() -> Path:
    """Return the zoo module directory: $LEAKHUNTER_ZOO_DIR, else <repo>/zoo.

    The package is installed editable from the repository, so the checkout's
    root is three levels above this package directory (src/leakhunter/harness).

    Raises:
        ZooBuildError: no go.mod is there (e.g. leakhunter installed from a wheel).
    """
    env = os.environ.get("LEAKHUNTER_ZOO_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "zoo"
    if not (path / "go.mod").is_file():
        raise ZooBuildError(
            f"zoo sources not found at {path} (run from a repository checkout or set "
            "LEAKHUNTER_ZOO_DIR)"
        )
    return path


def cache_dir() -> Path:
    """Return the directory holding built zoo binaries."""
    root = os.environ.get("LEAKHUNTER_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "leakhunter"
    return base / "zoo"


def find_go() -> str:
    """Return the path of the ``go`` command ($LEAKHUNTER_GO, else PATH, else /usr/local/go).

    Raises:
        GoNotFoundError: Go is not installed.
    """
    env = os.environ.get("LEAKHUNTER_GO")
    if env:
        if not os.access(env, os.X_OK):
            raise GoNotFoundError(f"Go toolchain not found: LEAKHUNTER_GO={env} is not executable")
        return env
    found = shutil.which("go")
    if found:
        return found
    fallback = Path("/usr/local/go/bin/go")
    if os.access(fallback, os.X_OK):
        return str(fallback)
    raise GoNotFoundError(
        "Go toolchain not found: install Go >= 1.26 and put `go` on PATH (or set LEAKHUNTER_GO)"
    )


def go_version(go: str | None = None) -> str:
    """Return the toolchain's version string, e.g. "go1.26.8"."""
    go = go or find_go()
    try:
        out = subprocess.run(
            [go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise GoNotFoundError(
            f"Go toolchain not usable: {go} env GOVERSION failed ({exc})"
        ) from None
    return out.stdout.strip()


def _sources(root: Path) -> Iterator[Path]:
    """Yield the files `go build` reads, in a stable order (skips _x, .x and testdata)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(("_", ".")) and d != "testdata"
        )
        for name in sorted(filenames):
            if name.endswith(".go") and not name.endswith("_test.go"):
                yield Path(dirpath) / name


def source_hash(root: Path, version: str) -> str:
    """Return a hex digest of the zoo's build inputs plus the Go version and experiment."""
    h = hashlib.sha256(f"{version}\0{GO_EXPERIMENT}\0".encode())
    for path in [root / "go.mod", root / "go.sum", *_sources(root)]:
        if path.is_file():
            h.update(str(path.relative_to(root)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _go_build(
    go: str, root: Path, out: Path, goflags: str | None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GOEXPERIMENT=GO_EXPERIMENT)
    if goflags is not None:
        env["GOFLAGS"] = (env.get("GOFLAGS", "") + " " + goflags).strip()
    cmd = [go, "build", "-trimpath=false", "-o", str(out), "./cmd/zoo"]
    try:
        return subprocess.run(
            cmd, cwd=root, env=env, capture_output=True, text=True, timeout=_BUILD_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise ZooBuildError(f"go build of the zoo took over {_BUILD_TIMEOUT:g}s") from None


def build_zoo(*, force: bool = False) -> Path:
    """Return the path of an up-to-date zoo binary, building it if needed.

    Raises:
        GoNotFoundError: Go is missing or too old for GOEXPERIMENT=goroutineleakprofile.
        ZooBuildError: the build failed (the message ends with the compiler's output).
    """
    go = find_go()
    root = zoo_dir()
    version = go_version(go)
    target = cache_dir() / f"zoo-{source_hash(root, version)}"
    if target.is_file() and not force:
        return target
    with _locked(target.parent):
        if target.is_file() and not force:
            return target  # another worker built it while we waited
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        result = _go_build(go, root, tmp, None)
        if result.returncode != 0 and "go.sum" in result.stderr + result.stdout:
            result = _go_build(go, root, tmp, "-mod=mod")  # go.sum incomplete: let go fix it
        if result.returncode != 0:
            with contextlib.suppress(OSError):
                tmp.unlink()
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            if "unknown GOEXPERIMENT" in tail:
                raise GoNotFoundError(
                    f"{version} cannot build GOEXPERIMENT={GO_EXPERIMENT}; the zoo needs Go >= 1.26"
                )
            raise ZooBuildError(f"go build of the zoo failed ({version}):\n{tail}")
        os.replace(tmp, target)
    return target
