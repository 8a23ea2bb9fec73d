"""Build and run tests/goprogs_rules (leak patterns on the real Go runtime) and record sessions.

- The program is built once per (sources, go.mod, Go version) and cached under
  $LEAKHUNTER_CACHE/goprogs_rules (default ~/.cache/leakhunter/goprogs_rules),
  with GOEXPERIMENT=goroutineleakprofile when the toolchain knows it, so the
  goroutineleak profile is served.
- `record(pattern, out)` runs one pattern and records a session of it with the
  real collector (short interval: the patterns leak fast).
- `PATTERNS` maps each pattern to its rate and the rule its first leak finding
  must get.

Needs the Go toolchain (tests using it are marked @pytest.mark.go).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from leakhunter.collect.watch import WatchOptions, WatchResult, collect

TESTS = Path(__file__).resolve().parent
SOURCES = TESTS / "goprogs_rules"
EXPERIMENT = "goroutineleakprofile"

#: pattern -> (operations per second, rule id expected on its first leak finding)
PATTERNS: dict[str, tuple[int, str]] = {
    "sync-pool-held": (100, "GO-SYNC-POOL-MISUSE"),
    "sync-pool-no-reset": (1, "GO-SYNC-POOL-MISUSE"),
    "waitgroup-never-done": (100, "GO-WAITGROUP-NEVER-DONE"),
    "mutex-never-unlocked": (100, "GO-MUTEX-NEVER-UNLOCKED"),
    "chan-range-never-closed": (100, "GO-CHAN-RANGE-NEVER-CLOSED"),
    "ctx-done-not-watched": (100, "GO-CTX-DONE-NOT-WATCHED"),
    "select-no-exit": (100, "GO-SELECT-NO-EXIT"),
    "db-open-per-request": (100, "GO-DB-UNBOUNDED-CLIENTS"),
    "sql-rows-not-closed": (100, "GO-SQL-ROWS-NOT-CLOSED"),
    "http-client-per-request": (50, "GO-HTTP-UNBOUNDED-CLIENTS"),
    "subslice-retention": (20, "GO-SUBSLICE-RETENTION"),
    "time-after-loop": (3000, "GO-TIME-AFTER-IN-LOOP"),
    "ticker-heap": (3000, "GO-TICKER-NOT-STOPPED"),
    "context-cancel-not-called": (3000, "GO-CONTEXT-CANCEL-NOT-CALLED"),
    "context-custom-parent": (100, "GO-CONTEXT-CANCEL-NOT-CALLED"),
    "kafka-goroutine-per-message": (200, "GO-KAFKA-GOROUTINE-PER-MESSAGE"),
}

#: patterns served by their own program (module) instead of leaks -pattern NAME
_PROGRAMS = {"kafka-goroutine-per-message": "kafka"}


def cache_dir() -> Path:
    """Return where the built program is kept."""
    base = os.environ.get("LEAKHUNTER_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "leakhunter") / "goprogs_rules"


def _env(extra: dict[str, str] | None = None, *, modules: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    # Never download a toolchain. The leaks program uses the standard library only;
    # the kafka program's modules come from the Go module proxy, pinned by its go.sum
    # (offline it skipped on every fresh machine: the zoo needs other versions).
    env.update(GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false", CGO_ENABLED="0")
    if not modules:
        env["GOPROXY"] = "off"
    env.update(extra or {})
    return env


def build(program: str = "leaks") -> Path:
    """Return a built program ("leaks" or "kafka"), building it when its sources changed."""
    from leakhunter.harness.build import find_go

    go = find_go()
    version = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, env=_env()
    ).stdout.strip()
    cwd, pkg = (SOURCES, "./leaks") if program == "leaks" else (SOURCES / program, ".")
    src = SOURCES / "leaks" if program == "leaks" else cwd
    h = hashlib.sha256(f"{version}\0{EXPERIMENT}\0".encode())
    for path in [cwd / "go.mod", *sorted(cwd.glob("go.sum")), *sorted(src.glob("*.go"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    target = cache_dir() / f"{program}-{h.hexdigest()[:16]}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    cmd = [go, "build", "-o", str(tmp), pkg]
    modules = program != "leaks"
    env = _env({"GOEXPERIMENT": EXPERIMENT}, modules=modules)
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0 and "GOEXPERIMENT" in result.stderr:
        env = _env(modules=modules)
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BuildError(f"go build {pkg} ({program}) failed:\n{result.stderr[-3000:]}")
    os.replace(tmp, target)
    return target


class BuildError(RuntimeError):
    """A goprog did not build (for the kafka program: usually modules missing offline)."""


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(
        target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(timeout)
    return box[0].strip() if box else ""


@contextlib.contextmanager
def running(pattern: str, rate: int | None = None) -> Iterator[str]:
    """Run one pattern; yield the base URL of its pprof server; kill it on exit."""
    rate = PATTERNS[pattern][0] if rate is None else rate
    program = _PROGRAMS.get(pattern, "leaks")
    args = ["-rate", str(rate)] if program != "leaks" else ["-pattern", pattern, "-rate", str(rate)]
    proc = subprocess.Popen(
        [str(build(program)), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        line = _first_line(proc, 60.0)
        if not line.startswith("listening on "):
            raise RuntimeError(f"leaks -pattern {pattern} did not start: {line!r}")
        yield "http://" + line.split()[-1]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def record(pattern: str, out: Path, snapshots: int = 12, interval: float = 0.5) -> WatchResult:
    """Record a session of one pattern into out (a new folder)."""
    options = WatchOptions(interval=interval, snapshots=snapshots, dump_growth=1_000_000_000)
    with running(pattern) as url:
        return collect(url, options, out, manifest_options={"goprog": {"pattern": pattern}})
