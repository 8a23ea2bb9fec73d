#!/usr/bin/env bash
# Set up leakhunter for development on a fresh machine: a virtualenv in .venv with
# the package (editable) and its dev tools. Idempotent and quick when already done.
# `setup.sh --test-tools` (what scripts/test.sh runs) also installs, as root, the
# Debian packages only the tests and benchmarks use (Chromium, panicparse,
# Prometheus with promtool, Alertmanager); the
# main job (scripts/demo.sh) needs none of them and installs none.
# Go (for the zoo and the anchor tests) is used if present; its modules come from
# the Go module proxy, pinned by zoo/go.sum, and are fetched by the zoo build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
test_tools=0
for arg in "$@"; do
  case "$arg" in
    --test-tools) test_tools=1 ;;
    *) echo "setup: unknown option $arg (known: --test-tools)" >&2; exit 2 ;;
  esac
done
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.leakhunter-installed
# (again when the build inputs change: pyproject, setup.py, the compiled kernels)
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] \
  || [ src/leakhunter/_native.c -nt "$stamp" ]; then
  echo "setup: installing leakhunter and its dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
# The compiled kernels are optional; rebuild them if they went missing (a `git clean`).
if command -v cc >/dev/null 2>&1 && ! .venv/bin/python -c "import leakhunter._native" 2>/dev/null; then
  echo "setup: building leakhunter's compiled kernels (src/leakhunter/_native.c)" >&2
  .venv/bin/python -m pip install --quiet --no-deps -e . \
    || echo "setup: could not build them; leakhunter runs its numpy paths (slower)" >&2
fi
# Byte-compile the package as a regular (non-editable) install does: with
# PYTHONDONTWRITEBYTECODE set, every `leakhunter` run would compile it again.
.venv/bin/python -m compileall -q src/leakhunter >/dev/null
# Optional tools for benchmarks and browser tests (Debian packages), when we are root
# and they were asked for (--test-tools).
if [ "$test_tools" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v panicparse >/dev/null 2>&1 || need+=(panicparse)
  # headless browser for the HTML report tests (tests/test_report_browser.py)
  command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver fonts-dejavu-core)
  # the real monitoring engines serve's alert rules and dashboard are tested on
  command -v promtool >/dev/null 2>&1 || need+=(prometheus)
  command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
  if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]} (apt)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") \
      >/dev/null 2>&1 \
      || echo "setup: could not install ${need[*]}; the benchmarks and tests that need them will say so" >&2
  fi
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: WARNING: Go not found: the zoo, the demo's live mode and Go-dependent tests are skipped" >&2
fi
