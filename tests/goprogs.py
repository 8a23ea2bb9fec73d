"""Build and run the Go programs under tests/goprogs/ to capture real goroutine dumps.

- Programs are built once per (sources, go.mod, Go version, experiment) and
  cached under $LEAKHUNTER_CACHE/goprogs (default ~/.cache/leakhunter/goprogs),
  with GOEXPERIMENT=goroutineleakprofile when the toolchain knows it (Go 1.26+)
  so /debug/pprof/goroutineleak is served.
- `Server` runs a program that prints "listening on ADDR" and serves pprof.
- `crash_output` / `sigquit_output` return what the runtime writes to stderr.
- `python tests/goprogs.py capture DIR [--minutes]` rewrites the committed
  fixtures under tests/data/goroutines/ from real runs.

Needs nothing but the standard library and leakhunter.harness.build.find_go,
so bench/bench_goroutines.py can import it too.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

TESTS = Path(__file__).resolve().parent
GOPROGS = TESTS / "goprogs"
FIXTURES = TESTS / "data" / "goroutines"
EXPERIMENT = "goroutineleakprofile"


def cache_dir() -> Path:
    """Return where built programs are kept."""
    base = os.environ.get("LEAKHUNTER_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "leakhunter") / "goprogs"


def find_go() -> str:
    """Return the go command; raises leakhunter's GoNotFoundError when missing."""
    from leakhunter.harness.build import find_go as find

    return find()


def go_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Never download a toolchain or modules: the programs use the standard library only.
    env.update(GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false", GOPROXY="off", CGO_ENABLED="0")
    env.update(extra or {})
    return env


def _version(go: str) -> str:
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, env=go_env())
    return out.stdout.strip()


def build(name: str) -> Path:
    """Return the path of tests/goprogs/<name> built, building it when the cache is stale."""
    go = find_go()
    version = _version(go)
    h = hashlib.sha256(f"{version}\0{EXPERIMENT}\0".encode())
    for path in [GOPROGS / "go.mod", *sorted((GOPROGS / name).glob("*.go"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    target = cache_dir() / f"{name}-{h.hexdigest()[:16]}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    cmd = [go, "build", "-o", str(tmp), f"./{name}"]
    result = subprocess.run(
        cmd, cwd=GOPROGS, capture_output=True, text=True, env=go_env({"GOEXPERIMENT": EXPERIMENT})
    )
    if result.returncode != 0 and "GOEXPERIMENT" in result.stderr:
        result = subprocess.run(cmd, cwd=GOPROGS, capture_output=True, text=True, env=go_env())
    if result.returncode != 0:
        raise RuntimeError(f"go build ./{name} failed:\n{result.stderr[-3000:]}")
    os.replace(tmp, target)
    return target


def fetch(url: str, timeout: float = 30.0) -> bytes:
    """GET a URL and return the body (plain urllib: no leakhunter code under test)."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body: bytes = resp.read()
        return body


class Server:
    """A goprog serving net/http/pprof; use as a context manager, read ``base``."""

    def __init__(self, name: str, args: tuple[str, ...] = (), env: Mapping[str, str] | None = None):
        self.binary = build(name)
        self.args = args
        self.env = env or {}
        self.base = ""
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [str(self.binary), *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=go_env(self.env),
        )
        line = _readline(self.proc, timeout=60.0)
        if not line.startswith("listening on "):
            self.__exit__()
            raise RuntimeError(f"{self.binary.name} did not start: {line!r}")
        self.base = "http://" + line.split()[-1]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def get(self, path: str) -> bytes:
        """Fetch one path (e.g. /debug/pprof/goroutine?debug=2) from the program."""
        return fetch(self.base + path)


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    """Read the first stdout line of proc, giving up after timeout seconds."""
    box: list[str] = []
    reader = threading.Thread(
        target=lambda: box.append(proc.stdout.readline() if proc.stdout else "")
    )
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    return box[0].strip() if box else ""


def crash_output(mode: str, traceback: str = "all", godebug: str = "") -> bytes:
    """Run the crash program in MODE and return its stderr (the runtime's crash output)."""
    binary = build("crash")
    env = {"GOTRACEBACK": traceback} | ({"GODEBUG": godebug} if godebug else {})
    result = subprocess.run([str(binary), mode], capture_output=True, timeout=60, env=go_env(env))
    return result.stderr


def sigquit_output(traceback: str | None = None) -> bytes:
    """Start the crash program parked, send SIGQUIT, and return what it printed."""
    binary = build("crash")
    env = go_env({"GOTRACEBACK": traceback} if traceback else None)
    if not traceback:
        env.pop("GOTRACEBACK", None)
    proc = subprocess.Popen(
        [str(binary), "wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=False, env=env
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready"
    proc.send_signal(signal.SIGQUIT)
    _, err = proc.communicate(timeout=60)
    return err


@contextlib.contextmanager
def states(labels: bool = False) -> Iterator[Server]:
    """Run the states program (optionally printing pprof labels in tracebacks)."""
    env = {"GODEBUG": "tracebacklabels=1"} if labels else {}
    with Server("states", env=env) as server:
        yield server


def capture(out: Path, minutes: bool = False) -> None:
    """Rewrite the real-dump fixtures in OUT from fresh runs."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    with states() as srv:
        files["states_debug2.txt"] = srv.get("/debug/pprof/goroutine?debug=2")
        files["states_debug1.txt"] = srv.get("/debug/pprof/goroutine?debug=1")
        files["states_debug0.pb.gz"] = srv.get("/debug/pprof/goroutine")
        files["leak_debug1.txt"] = srv.get("/debug/pprof/goroutineleak?debug=1")
        files["leak_debug2.txt"] = srv.get("/debug/pprof/goroutineleak?debug=2")
        files["leak_debug0.pb.gz"] = srv.get("/debug/pprof/goroutineleak")
        if minutes:
            time.sleep(125)
            files["states_minutes_debug2.txt"] = srv.get("/debug/pprof/goroutine?debug=2")
    with states(labels=True) as srv:
        files["states_labels_debug2.txt"] = srv.get("/debug/pprof/goroutine?debug=2")
    for mode in ("panic", "segv", "deadlock", "deep"):
        files[f"crash_{mode}.txt"] = crash_output(mode)
    files["crash_throw_system.txt"] = crash_output("throw", "system")
    files["crash_ancestors.txt"] = crash_output("panic", godebug="tracebackancestors=3")
    files["sigquit.txt"] = sigquit_output()
    files["sigquit_crash.txt"] = sigquit_output("crash")
    for name, data in files.items():
        if len(data) > 50_000 and not name.endswith(".gz"):
            name, data = name + ".gz", gzip.compress(data, mtime=0)
        (out / name).write_bytes(data)
        print(f"wrote {out / name} ({len(data):,} bytes)")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "capture":
        sys.exit("usage: python tests/goprogs.py capture DIR [--minutes]")
    capture(Path(sys.argv[2]), minutes="--minutes" in sys.argv)
