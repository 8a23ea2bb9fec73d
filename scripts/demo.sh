#!/usr/bin/env bash
# The main job: set up, then watch a real leaking service (the gRPC stream leak of
# the zoo) for ~30 s and print the verdict. Without Go it analyses a recorded session.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/leakhunter demo "$@"
