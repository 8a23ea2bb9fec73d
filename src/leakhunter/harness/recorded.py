"""Recorded zoo sessions: find them (package data or checkout), pack and unpack them.

``leakhunter demo`` falls back to a recorded session when Go is missing. It is
looked up first as package data (``leakhunter/data/sessions/NAME.tar.gz``, for
installed wheels), then in the repository checkout (``tests/data/sessions/NAME/``).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import tarfile
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from leakhunter.collect.session import load_session
from leakhunter.errors import LeakhunterError

__all__ = ["DEMO_SCENARIO", "demo_session", "pack_session", "recorded_dir", "unpack_session"]

DEMO_SCENARIO = "unbounded-map-cache"


def recorded_dir() -> Path:
    """Return the checkout's folder of recorded sessions (it may not exist)."""
    return Path(__file__).resolve().parents[3] / "tests" / "data" / "sessions"


def pack_session(directory: str | Path, out: str | Path) -> Path:
    """Write a session folder as a reproducible .tar.gz (sorted, zeroed owners and times)."""
    src = Path(directory)
    load_session(src)  # refuse to pack something that is not a session
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith(".")):
            info = tarfile.TarInfo(f"{src.name}/{path.name}")
            info.size = path.stat().st_size
            info.mode = 0o644
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
    target = Path(out)
    target.write_bytes(gzip.compress(buf.getvalue(), compresslevel=9, mtime=0))
    return target


def unpack_session(data: bytes, into: str | Path) -> Path:
    """Extract a packed session into a directory; return the session folder."""
    dest = Path(into)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
        names = {m.name.split("/", 1)[0] for m in tar.getmembers()}
    if len(names) != 1:
        raise LeakhunterError("a packed session must hold exactly one folder")
    return dest / names.pop()


def _packaged(name: str) -> bytes | None:
    try:
        ref = resources.files("leakhunter").joinpath("data", "sessions", f"{name}.tar.gz")
        return ref.read_bytes() if ref.is_file() else None
    except (OSError, ModuleNotFoundError):
        return None


@contextlib.contextmanager
def demo_session(name: str = DEMO_SCENARIO) -> Iterator[tuple[Path, str]]:
    """Yield (session folder, one-line description) of a recorded zoo session.

    Raises:
        LeakhunterError: no recording of that scenario is installed or checked out.
    """
    packed = _packaged(name)
    if packed is not None:
        with tempfile.TemporaryDirectory(prefix="leakhunter-demo-") as tmp:
            path = unpack_session(packed, tmp)
            yield path, _describe(name, path)
        return
    path = recorded_dir() / name
    if not (path / "manifest.json").is_file():
        raise LeakhunterError(f"no recorded session of zoo scenario {name!r} is available")
    yield path, _describe(name, path)


def _describe(name: str, path: Path) -> str:
    session = load_session(path)
    started = session.manifest.started[:10] if session.manifest else "unknown date"
    return f"scenario {name}, {len(session.snapshots)} snapshots recorded {started}"
