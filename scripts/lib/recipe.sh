# Helpers shared by the recipe scripts (scripts/<family>_quantize.sh, train_local_cluster.sh):
# the venv, QUICK=1 presets, progress lines and quiet python steps with their logs kept.
#
# Source it after `set -euo pipefail` with LOG_TAG set to the script's name:
#   LOG_TAG=detection_quantize
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/recipe.sh"
# It sets ROOT (the checkout, also the working folder) and PY (the venv's python), and runs
# scripts/setup_env.sh first unless SKIP_SETUP_ENV=1. `run` writes under $RUN_DIR/logs: set
# RUN_DIR before the first step.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [ "${SKIP_SETUP_ENV:-0}" != 1 ]; then bash scripts/setup_env.sh; fi
PY="$ROOT/.venv/bin/python"

# preset FULL QUICK: the QUICK=1 value when set, else the full one.
preset() { if [ "${QUICK:-0}" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# log MESSAGE...: a progress line, "[$LOG_TAG HH:MM:SS] MESSAGE".
log() { echo "[$LOG_TAG $(date -u +%H:%M:%S)] $*"; }

# run_cmd NAME CMD...: runs CMD with its output in $RUN_DIR/logs/NAME.log; on failure shows the
# log's tail and where the whole log is, and exits 1.
run_cmd() {
  local name="$1"; shift
  mkdir -p "$RUN_DIR/logs"
  if ! "$@" >"$RUN_DIR/logs/$name.log" 2>&1; then
    tail -n 30 "$RUN_DIR/logs/$name.log" >&2
    echo "[$LOG_TAG] step '$name' failed; full log: $RUN_DIR/logs/$name.log" >&2
    exit 1
  fi
}

# run NAME ARGS...: a python step of the venv (ARGS: a script path or -m MODULE, and its flags).
run() { local name="$1"; shift; run_cmd "$name" "$PY" "$@"; }
