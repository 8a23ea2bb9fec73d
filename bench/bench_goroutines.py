"""Benchmark: `leakhunter goroutines DUMP --json` vs panicparse on big debug=2 dumps.

Builds tests/goprogs/many (cached), has it park N goroutines (default 100,000)
in a mix of ~two dozen stacks and wait states (some deep, some labelled, with
GODEBUG=tracebacklabels=1 as Go 1.27 prints by default) and write the debug=2
dump to a cache file, then times, as separate processes, best of --runs:

  leakhunter  the installed console script: `leakhunter goroutines DUMP --json`
  panicparse  its fastest non-interactive mode, `panicparse -aggressive -no-color
              DUMP` (also the one whose grouping ignores argument values, like
              ours; 2.6x faster than its default on 10k goroutines), stdout kept
              to count its goroutines and groups

and prints both wall times (Python start-up included), the ratio, each
process's peak RSS (from wait4), and both tools' goroutine and group counts.
panicparse slows down superlinearly (about 1000 s for 100k goroutines on a
small VM), so it gets its own, lower run count and a timeout.

    python bench/bench_goroutines.py [--sizes 10000,100000] [--runs 5]
        [--panicparse-runs 1] [--timeout 3600] [--panicparse-args "-no-color"]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


@dataclass
class Run:
    seconds: float
    cpu: float
    max_rss_kb: int
    stdout: bytes


def timed(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> Run | None:
    """Run cmd once; return wall time and its own peak RSS (wait4), None on timeout."""
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-goroutines-{os.getpid()}.out"
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                return None
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    data = out_path.read_bytes()
    out_path.unlink()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, data)


def best(cmd: list[str], runs: int, timeout: float) -> tuple[Run | None, list[float]]:
    results = []
    for _ in range(runs):
        r = timed(cmd, timeout)
        if r is None:
            return None, [r.seconds for r in results]
        results.append(r)
    return min(results, key=lambda r: r.seconds), [r.seconds for r in results]


def leakhunter_script() -> str:
    """The installed console script next to this interpreter (not a pyenv shim)."""
    here = Path(sys.executable).parent / "leakhunter"
    if here.exists():
        return str(here)
    found = shutil.which("leakhunter")
    if found is None:
        raise SystemExit("leakhunter is not installed (pip install -e '.[dev]')")
    return found


def make_dump(n: int) -> Path | None:
    sys.path.insert(0, str(TESTS))
    try:
        from goprogs import build, cache_dir, go_env
    finally:
        sys.path.pop(0)
    try:
        binary = build("many")
    except Exception as exc:  # no Go: say so clearly and stop
        print(f"go: cannot build the benchmark program ({exc}); install Go >= 1.26")
        return None
    path = cache_dir() / "dumps" / f"many-{n}-{binary.name}.txt"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"writing a {n:,}-goroutine debug=2 dump to {path} ...", flush=True)
    tmp = path.with_suffix(".tmp")
    env = go_env({"GODEBUG": "tracebacklabels=1"})
    subprocess.run([str(binary), "-n", str(n), "-out", str(tmp)], check=True, env=env)
    os.replace(tmp, path)
    return path


def panicparse_counts(text: str) -> tuple[int, int]:
    """(goroutines, groups) from panicparse's "N: state" bucket headers."""
    counts = [int(m.group(1)) for m in re.finditer(r"^(\d+): ", text, re.M)]
    return sum(counts), len(counts)


def bench_size(n: int, args: argparse.Namespace) -> None:
    dump = make_dump(n)
    if dump is None:
        return
    size = dump.stat().st_size
    print(f"\n== {n:,} goroutines: {dump.name} ({size / 1e6:.1f} MB)")
    lh_cmd = [leakhunter_script(), "goroutines", str(dump), "--json"]
    lh, lh_times = best(lh_cmd, args.runs, args.timeout)
    assert lh is not None
    doc = json.loads(lh.stdout)
    print(
        f"leakhunter  best {lh.seconds:8.3f} s  cpu {lh.cpu:7.3f} s  "
        f"peak RSS {lh.max_rss_kb / 1024:7.1f} MiB  "
        f"({doc['total']:,} goroutines, {len(doc['groups'])} groups; "
        f"runs {', '.join(f'{t:.3f}' for t in lh_times)})"
    )
    pp_bin = shutil.which("panicparse")
    if pp_bin is None:
        print("panicparse: not installed (apt install panicparse); no comparison")
        return
    pp_cmd = [pp_bin, *args.panicparse_args.split(), str(dump)]
    runs = args.panicparse_runs if n > 20_000 else args.runs
    pp, pp_times = best(pp_cmd, runs, args.timeout)
    if pp is None:
        print(
            f"panicparse  did not finish within {args.timeout:g} s; ratio > "
            f"{args.timeout / lh.seconds:.0f}x"
        )
        return
    total, groups = panicparse_counts(pp.stdout.decode("utf-8", "replace"))
    print(
        f"panicparse  ({args.panicparse_args})\n"
        f"            best {pp.seconds:8.3f} s  cpu {pp.cpu:7.3f} s  "
        f"peak RSS {pp.max_rss_kb / 1024:7.1f} MiB  "
        f"({total:,} goroutines, {groups} groups; "
        f"runs {', '.join(f'{t:.3f}' for t in pp_times)})"
    )
    print(
        f"ratio       leakhunter is {pp.seconds / lh.seconds:.1f}x faster in wall time "
        f"(target >= 10x), {pp.cpu / lh.cpu:.1f}x in CPU time"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated goroutine counts")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--panicparse-runs", type=int, default=1, help="runs above 20k")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per run, seconds")
    parser.add_argument(
        "--panicparse-args",
        default="-aggressive -no-color",
        help="panicparse flags (its default mode: -no-color)",
    )
    args = parser.parse_args()
    if shutil.which("go") is None and not Path("/usr/local/go/bin/go").exists():
        print("go: not found; the benchmark needs Go >= 1.26 to make its dumps")
        return
    for n in (int(s) for s in args.sizes.split(",")):
        bench_size(n, args)


if __name__ == "__main__":
    main()
