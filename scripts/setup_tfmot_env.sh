#!/usr/bin/env bash
# Creates the benchmark-only venv .venv-tfmot for the tfmot peer (benchmarks/tfmot_peer.py).
# tensorflow-model-optimization 0.8.1 pins absl-py~=1.2, which must never reach the project's
# .venv; so it gets a venv of its own holding tfmot, absl-py 1.x, dm-tree and six, and reads
# TensorFlow, tf_keras and numpy from .venv's site-packages through a .pth file (appended after
# its own site-packages, so its absl-py wins). Nothing here is installed into .venv.
# Usage: bash scripts/setup_tfmot_env.sh   (after scripts/setup_env.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$ROOT/.venv"
VENV="${TFMOT_VENV:-$ROOT/.venv-tfmot}"
[ -x "$BASE/bin/python" ] || { echo "ERROR: $BASE missing: run scripts/setup_env.sh first" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup_tfmot_env] creating $VENV"
  "$BASE/bin/python" -m venv "$VENV"  # the same interpreter as .venv
fi
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
BASE_SITE="$("$BASE/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$VENV/bin/python" -m pip install --quiet --no-deps "tensorflow-model-optimization==0.8.1" \
  2> >(grep -v "is ignored: it is neither" >&2)
"$VENV/bin/python" -m pip install --quiet "absl-py~=1.2" "dm-tree~=0.1.1" "six~=1.14" \
  2> >(grep -v "is ignored: it is neither" >&2)
echo "$BASE_SITE" > "$SITE/project_venv.pth"
"$VENV/bin/python" -c 'import absl, tensorflow_model_optimization as t; print("[setup_tfmot_env] tfmot", t.__version__, "absl", absl.__file__)'
