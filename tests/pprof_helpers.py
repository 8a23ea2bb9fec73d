"""Helpers shared by the pprof tests and bench/bench_top.py.

- Go test programs under tests/goprogs_pprof/ are built with the Go toolchain
  once per (source hash, go version) and cached under $LEAKHUNTER_CACHE or
  ~/.cache/leakhunter, so reruns cost nothing.
- `go tool pprof -top` output is run and parsed into (total, dropped, rows) so
  tests can compare it with leakhunter's numbers exactly.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
GOPROGS = TESTS / "goprogs_pprof"
DATA = TESTS / "data" / "pprof"

NO_GO = (
    "Go toolchain not found: `go` is not on PATH. These tests run the real Go runtime "
    "and `go tool pprof` as the reference; install Go >= 1.22 to run them."
)

#: Sample types of Go heap/allocs profiles, in file order.
HEAP_TYPES = ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")


def go_binary() -> str | None:
    """Return the path of `go`, or None."""
    return shutil.which("go")


def require_go() -> str:
    """Return the path of `go`, or skip the test loudly."""
    go = go_binary()
    if go is None:
        pytest.skip(NO_GO)
    return go


def cache_dir() -> Path:
    """Return the build cache root ($LEAKHUNTER_CACHE or ~/.cache/leakhunter)."""
    base = os.environ.get("LEAKHUNTER_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "leakhunter"


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # Never download a toolchain or modules: the programs use the standard library only.
    env.update(
        GOTOOLCHAIN="local", GOFLAGS="-mod=mod -buildvcs=false", GOPROXY="off", CGO_ENABLED="0"
    )
    return env


@functools.cache
def go_version(go: str) -> str:
    """Return `go version` output (part of the build cache key)."""
    return subprocess.run(
        [go, "version"], capture_output=True, text=True, check=True, env=_go_env()
    ).stdout.strip()


def source_hash(name: str, go: str) -> str:
    """Hash the program's sources, go.mod and the Go version."""
    h = hashlib.sha256(go_version(go).encode())
    for path in [GOPROGS / "go.mod", *sorted((GOPROGS / name).glob("*.go"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def build_goprog(name: str) -> Path:
    """Build tests/goprogs_pprof/NAME (cached by source hash) and return the binary."""
    go = require_go()
    target_dir = cache_dir() / "goprogs_pprof" / f"{name}-{source_hash(name, go)}"
    binary = target_dir / name
    if binary.exists():
        return binary
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
        out = Path(tmp) / name
        proc = subprocess.run(
            [go, "build", "-trimpath", "-o", str(out), f"./{name}"],
            cwd=GOPROGS,
            capture_output=True,
            text=True,
            env=_go_env(),
            timeout=300,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"go build ./{name} failed:\n{proc.stderr}")
        os.replace(out, binary)  # atomic: concurrent builders race harmlessly
    return binary


@functools.cache
def pprof_tool() -> list[str]:
    """Return the command that runs `go tool pprof` (the built tool, skipping `go`)."""
    go = require_go()
    proc = subprocess.run(
        [go, "tool", "-n", "pprof"], capture_output=True, text=True, env=_go_env()
    )
    path = proc.stdout.strip()
    return (
        [path] if proc.returncode == 0 and path and Path(path).exists() else [go, "tool", "pprof"]
    )


@dataclass(frozen=True)
class PprofTop:
    """The numbers of one `go tool pprof -top` report."""

    total: int
    shown: int
    dropped: int
    rows: tuple[tuple[str, int, int], ...]  # (name without inline suffix, flat, cum)
    text: str


_SHOWING = re.compile(r"^Showing nodes accounting for (\S+), \S+ of (\S+) total$")
_DROPPED = re.compile(r"^Dropped (\d+) nodes? \(cum <= \S+\)$")
_ROW = re.compile(r"^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)  (.+)$")
_INLINE = re.compile(r" \((?:inline|partial-inline)\)$")


def parse_value(text: str) -> int:
    """Parse a value printed with -unit=B ("1024B", "-3B", "0")."""
    digits = text[:-1] if text.endswith("B") else text
    if not re.fullmatch(r"-?\d+", digits):
        raise ValueError(f"unexpected pprof value {text!r} (expected whole bytes)")
    return int(digits)


def parse_top(text: str) -> PprofTop:
    """Parse `go tool pprof -top -unit=B` output."""
    total = shown = dropped = None
    rows: list[tuple[str, int, int]] = []
    in_table = False
    for line in text.splitlines():
        if in_table:
            m = _ROW.match(line)
            if not m:
                raise ValueError(f"unparsed pprof row {line!r}")
            name = _INLINE.sub("", m.group(6))
            rows.append((name, parse_value(m.group(1)), parse_value(m.group(4))))
        elif m := _SHOWING.match(line):
            shown, total = parse_value(m.group(1)), parse_value(m.group(2))
        elif m := _DROPPED.match(line):
            dropped = int(m.group(1))
        elif line.split() == ["flat", "flat%", "sum%", "cum", "cum%"]:
            in_table = True
    if total is None or shown is None:
        raise ValueError(f"no 'Showing nodes' header in pprof output:\n{text}")
    return PprofTop(total, shown, dropped or 0, tuple(rows), text)


def run_pprof_top(args: Sequence[str], *, lines: bool = False) -> PprofTop:
    """Run `go tool pprof -top -unit=B -symbolize=none [-lines] ARGS` and parse it."""
    cmd = [*pprof_tool(), "-top", "-unit=B", "-symbolize=none"]
    if lines:
        cmd.append("-lines")
    proc = subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",  # names may hold non-UTF-8 bytes, as ours do
        env=_go_env(),
        timeout=120,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} {' '.join(args)} failed:\n{proc.stderr}")
    return parse_top(proc.stdout)


@dataclass(frozen=True)
class LhTop:
    """The numbers of one `leakhunter top --json` report."""

    total: int
    dropped: int
    rows: tuple[tuple[str, int, int], ...]
    doc: dict[str, object]


def parse_lh_json(text: str) -> LhTop:
    """Parse leakhunter.top/1 JSON into the same shape as PprofTop."""
    doc = json.loads(text)
    assert doc["schema"] == "leakhunter.top/1"
    rows = tuple((r["name"], r["flat"], r["cum"]) for r in doc["rows"])
    return LhTop(doc["total"], doc["dropped_nodes"], rows, doc)


def first_difference(a: Sequence[object], b: Sequence[object]) -> str:
    """Describe where two row lists first differ (for assertion messages)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"row {i}: leakhunter {x!r} != pprof {y!r}"
    return f"lengths differ: leakhunter {len(a)} rows, pprof {len(b)} rows"


# ---------------------------------------------------------------------------
# Hand-built profiles


def hand_profile(
    rows: Sequence[tuple[object, ...]],
    types: Sequence[tuple[str, str]] = (("samples", "count"),),
    **fields: object,
):
    """Build a Profile from readable rows: (stack, values[, labels]).

    A stack lists frames leaf first. A frame is "func" or "func:line"; a tuple of
    such strings is one location with inlined lines (innermost first); None is
    an unsymbolized location. Each distinct frame gets one location and each
    function (file "<func>.go") one entry, ids in order of first use.
    """
    from leakhunter.model import Function, Line, Location, Mapping, Sample, ValueType, make_profile

    functions: dict[str, Function] = {}
    locations: dict[object, Location] = {}

    def function(name: str) -> Function:
        if name not in functions:
            functions[name] = Function(id=len(functions) + 1, name=name, filename=f"{name}.go")
        return functions[name]

    def line(spec: str) -> Line:
        name, _, num = spec.partition(":")
        return Line(function(name).id, int(num) if num else 0)

    def location(frame: object) -> int:
        if frame not in locations:
            specs = () if frame is None else frame if isinstance(frame, tuple) else (frame,)
            locations[frame] = Location(
                id=len(locations) + 1,
                mapping_id=1,
                address=0x1000 + 16 * len(locations) if frame is None else 0,
                lines=tuple(line(s) for s in specs),
            )
        return locations[frame].id

    samples = []
    for row in rows:
        stack, values = row[0], row[1]
        labels = row[2] if len(row) > 2 else ()
        ids = tuple(location(f) for f in stack)  # type: ignore[attr-defined]
        samples.append(Sample(ids, tuple(values), tuple(labels)))  # type: ignore[arg-type]
    fields.setdefault("mappings", (Mapping(id=1, filename="/bin/app", has_functions=True),))
    return make_profile(
        [ValueType(*t) for t in types],
        samples,
        functions=tuple(functions.values()),
        locations=tuple(locations.values()),
        **fields,
    )


def _go_clean(path: str) -> str:
    """Go's filepath.Clean (posixpath.normpath keeps a leading "//")."""
    import posixpath

    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("//") else out


def brute_force_top(profile, index: int, granularity: str = "function"):
    """Reference flat/cum per node name, sample by sample, as pprof's graph does."""
    funcs = {f.id: f for f in profile.functions}
    locs = {loc.id: loc for loc in profile.locations}
    files = {m.id: m.filename for m in profile.mappings}
    flat: dict[str, int] = {}
    cum: dict[str, int] = {}
    for sample in profile.samples():
        value = sample.values[index]
        if value == 0:
            continue
        names: list[str] = []  # leaf first
        for lid in sample.location_ids:
            loc = locs[lid]
            if not loc.lines:
                obj = files.get(loc.mapping_id, "")
                names.append(f"[{obj.rsplit('/', 1)[-1]}]" if obj else "<unknown>")
            for ln in loc.lines:
                f = funcs[ln.function_id]
                name = f.name
                if granularity == "line":
                    file = _go_clean(f.filename) if f.filename else ""
                    if ln.line:
                        name = f"{f.name} {file}:{ln.line}"
                    elif file:
                        name = f"{f.name} {file}"
                names.append(name)
        for name in set(names):
            cum[name] = cum.get(name, 0) + value
        if names:
            flat[names[0]] = flat.get(names[0], 0) + value
    return {n: (flat.get(n, 0), cum[n]) for n in cum if cum[n] or flat.get(n, 0)}
