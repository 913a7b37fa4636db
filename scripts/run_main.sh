#!/usr/bin/env bash
# The README's main-job command: set up (idempotent), then run the main job on embedded
# defaults. Extra arguments go to the main job (see: scripts/run_main.sh --help).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
VENV="${MEMORY_STACK_VENV:-$ROOT/.venv}"
export MUJOCO_GL="${MUJOCO_GL:-egl}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
exec "$VENV/bin/python" -m memory_nodes.main_job "$@"
