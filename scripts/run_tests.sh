#!/usr/bin/env bash
# The README's test command: set up (idempotent, seconds when already done), lint the whole
# tree in the ROS style (ruff, 99 columns), then run the default test suite (slow benchmarks
# and soak tests are deselected; run them with: scripts/run_tests.sh -m slow).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
VENV="${MEMORY_STACK_VENV:-$ROOT/.venv}"
export MUJOCO_GL="${MUJOCO_GL:-egl}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
echo '[test] ruff check (lint, ROS style)'
"$VENV/bin/ruff" check .
echo '[test] pytest'
exec "$VENV/bin/python" -m pytest "$@"
