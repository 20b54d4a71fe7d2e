#!/usr/bin/env bash
# Creates or refreshes the project's virtualenv in .venv and installs the project editable.
# Idempotent and fast when nothing changed: the install is skipped when setup.py (and this
# script) have the same hash as at the last successful install.
# Usage: source scripts/setup_env.sh   (or bash scripts/setup_env.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
EXTRAS="${SETUP_EXTRAS:-cpu,test,bench}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup_env] creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.project_install_stamp"
WANT="$(cat "$ROOT/setup.py" "$ROOT/scripts/setup_env.sh" | sha256sum | cut -d' ' -f1)-$EXTRAS"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "[setup_env] installing project with extras [$EXTRAS]"
  # The machine's pip config lists optional local indexes; their "is ignored" warnings are noise.
  # The venv's bundled pip is used as is (upgrading it cost a download and an install). Keep
  # pip's byte-compilation: with PYTHONDONTWRITEBYTECODE=1 (set on some machines, e.g. this
  # project's CI) nothing is cached on import, and every process recompiled TensorFlow (~11 s).
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT[$EXTRAS]" \
    2> >(grep -v "is ignored: it is neither" >&2)
  # tf-keras depends on the full `tensorflow` wheel; --no-deps keeps tensorflow-cpu the only TF.
  "$VENV/bin/python" -m pip install --quiet --no-deps "tf-keras==2.21.*" \
    2> >(grep -v "is ignored: it is neither" >&2)
  echo "$WANT" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
else
  echo "[setup_env] .venv is up to date"
fi
