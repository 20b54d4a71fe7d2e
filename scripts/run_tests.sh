#!/usr/bin/env bash
# Runs the test suite in the project's .venv (created/refreshed first).
# Default: every test not marked `slow`. `RUN_SLOW=1` (or `--slow`) adds the slow end-to-end
# tests. Extra arguments go to pytest. "No tests collected" (pytest exit 5) is a failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
MARK=(-m "not slow")
ARGS=()
for a in "$@"; do
  if [ "$a" = "--slow" ]; then RUN_SLOW=1; else ARGS+=("$a"); fi
done
if [ "${RUN_SLOW:-0}" = "1" ]; then MARK=(); fi
set +e
"$ROOT/.venv/bin/python" -m pytest "${MARK[@]}" "${ARGS[@]}"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "run_tests.sh: pytest collected no tests; treating this as a failure" >&2
  exit 1
fi
exit $rc
