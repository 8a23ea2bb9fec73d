"""Running leakhunter as a hostile user would: a real process, real files, real servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import leakhunter

# HOSTILE_SRC runs the children on another tree (e.g. main's, to see a test fail there).
SRC = os.environ.get("HOSTILE_SRC") or str(Path(leakhunter.__file__).parent.parent)
DATA = Path(__file__).parent / "data"
HEAP = DATA / "pprof" / "heap.pb.gz"
SESSION = DATA / "sessions" / "unbounded-map-cache"


def env(**extra: str) -> dict[str, str]:
    """Return the environment of a leakhunter child: this tree first, small and quiet."""
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    e["OPENBLAS_NUM_THREADS"] = "1"
    e.pop("LEAKHUNTER_MAX_INPUT_BYTES", None)
    e.update(extra)
    return e


def lh(
    *args: str, timeout: float = 60, extra_env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run `python -m leakhunter ARGS` and return its result (text)."""
    kw.setdefault("capture_output", True)
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "leakhunter", *args],
        env=env(**(extra_env or {})),
        text=True,
        timeout=timeout,
        **kw,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """Assert proc failed with exit 2 and one clean line (no traceback); return the line."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("leakhunter")]
    assert lines, proc.stderr
    return lines[-1]
