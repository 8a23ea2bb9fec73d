#!/usr/bin/env bash
# Set up, then run every check: ruff, mypy --strict, and the whole pytest suite
# (unit, golden, property, fuzz, end-to-end on the real zoo services).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test-tools
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff" >&2
ruff check src tests bench
ruff format --check src tests bench
echo "== mypy --strict" >&2
mypy src
echo "== pytest" >&2
exec pytest -q -p no:cacheprovider --durations=30 "$@"
