"""Benchmark `leakhunter top` and `leakhunter diff` against `go tool pprof` on big real profiles.

tests/goprogs_pprof/bigheap (run with runtime.MemProfileRate=1) walks a binary
tree of recursion 18 levels deep, choosing between two functions by the bits
of a counter, and retains an allocation at each of the 2^18 leaves: a REAL heap
profile with ~262k distinct stacks. A second snapshot (some leaves freed, a
second generation allocated) is the NEW side of the diff. Both are cached under
$LEAKHUNTER_CACHE (default ~/.cache/leakhunter) by program hash and depth.

Each command runs as a subprocess (the installed `leakhunter` console script,
and the pprof tool binary that `go tool pprof` runs), best of N wall time, the
commands taking turns; the peak RSS of each run comes from wait4's rusage.
"top(numpy)" is leakhunter with its compiled kernels switched off
(LEAKHUNTER_NATIVE=0), as an install without a C compiler runs it. The outputs are checked to
agree before timing. Usage: python bench/bench_top.py [--depth 18] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pprof_helpers import (  # noqa: E402
    build_goprog,
    cache_dir,
    parse_lh_json,
    pprof_tool,
    run_pprof_top,
    source_hash,
)


@dataclass(frozen=True)
class Timing:
    best: float
    median: float
    cpu: float  # user + system seconds of the best run (robust to a busy machine)
    peak_rss_mb: float


def leakhunter_script() -> list[str]:
    """The installed console script next to this interpreter (not a pyenv shim)."""
    beside = Path(sys.executable).parent / "leakhunter"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("leakhunter")
    return [found] if found else [sys.executable, "-m", "leakhunter.cli.main"]


def profiles(depth: int) -> tuple[Path, Path]:
    """Build bigheap and produce (cached) snapshots A and B at the given depth."""
    binary = build_goprog("bigheap")
    go = shutil.which("go") or "go"
    out = cache_dir() / "bench" / f"bigheap-{source_hash('bigheap', go)}-d{depth}"
    a, b = out / "a.pb.gz", out / "b.pb.gz"
    if not (a.exists() and b.exists()):
        out.mkdir(parents=True, exist_ok=True)
        tmp_a, tmp_b = out / "a.tmp", out / "b.tmp"
        print(f"generating depth-{depth} heap profiles in {out} ...", file=sys.stderr)
        subprocess.run(
            [str(binary), "-depth", str(depth), "-out1", str(tmp_a), "-out2", str(tmp_b)],
            check=True,
        )
        os.replace(tmp_a, a)
        os.replace(tmp_b, b)
    return a, b


def run_once(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run cmd, discarding output; return wall seconds, CPU seconds and peak RSS in MiB."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env and {**os.environ, **env}
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # KiB on Linux


def measure(cmds: list[tuple[list[str], dict[str, str] | None]], repeat: int) -> list[Timing]:
    """Time each command `repeat` times, taking turns so a slow spell hits them all alike."""
    runs: list[list[tuple[float, float, float]]] = [[] for _ in cmds]
    for _ in range(repeat):
        for i, (cmd, env) in enumerate(cmds):
            runs[i].append(run_once(cmd, env))
    out = []
    for r in runs:
        best = min(r)
        times = [t for t, _, _ in r]
        out.append(Timing(best[0], statistics.median(times), best[1], max(m for _, _, m in r)))
    return out


def check_same(lh_args: list[str], pp_args: list[str]) -> None:
    """Fail loudly unless leakhunter and pprof print the same numbers."""
    proc = subprocess.run(
        [*leakhunter_script(), *lh_args, "--json"], capture_output=True, text=True, check=True
    )
    ours = parse_lh_json(proc.stdout)
    theirs = run_pprof_top(pp_args)
    if (ours.total, ours.rows, ours.dropped) != (theirs.total, theirs.rows, theirs.dropped):
        raise SystemExit(f"MISMATCH for {lh_args}:\n{proc.stdout}\n{theirs.text}")


def report(name: str, ours: Timing, theirs: Timing) -> dict[str, object]:
    ratio = theirs.best / ours.best
    print(
        f"{name:11} leakhunter {ours.best:6.3f}s (median {ours.median:6.3f}s, "
        f"CPU {ours.cpu:6.3f}s, "
        f"peak RSS {ours.peak_rss_mb:5.0f} MiB) | go tool pprof {theirs.best:6.3f}s "
        f"(median {theirs.median:6.3f}s, CPU {theirs.cpu:6.3f}s, peak RSS "
        f"{theirs.peak_rss_mb:5.0f} MiB) | {ratio:5.1f}x faster"
    )
    return {
        "command": name,
        "leakhunter": vars(ours),
        "pprof": vars(theirs),
        "speedup": round(ratio, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=18, help="2^depth distinct stacks")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (best of)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    a, b = profiles(args.depth)
    pp = [*pprof_tool(), "-top", "-symbolize=none"]
    lh = leakhunter_script()
    print(f"profiles: {a} ({a.stat().st_size / 1e6:.1f} MB), {b} ({b.stat().st_size / 1e6:.1f} MB)")
    print(f"leakhunter: {' '.join(lh)}; pprof: {pp[0]}; best of {args.repeat}")
    check_same(["top", str(a)], [str(a)])
    check_same(["diff", str(a), str(b)], ["-diff_base", str(a), str(b)])
    numpy_only = {"LEAKHUNTER_NATIVE": "0"}  # what an install without a C compiler runs
    top_lh, top_np, top_pp = measure(
        [([*lh, "top", str(a)], None), ([*lh, "top", str(a)], numpy_only), ([*pp, str(a)], None)],
        args.repeat,
    )
    diff_lh, diff_pp = measure(
        [([*lh, "diff", str(a), str(b)], None), ([*pp, "-diff_base", str(a), str(b)], None)],
        args.repeat,
    )
    results = [
        report("top", top_lh, top_pp),
        report("top(numpy)", top_np, top_pp),
        report("diff", diff_lh, diff_pp),
    ]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
