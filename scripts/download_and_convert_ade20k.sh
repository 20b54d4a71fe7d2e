#!/usr/bin/env bash
# Converts ADE20K (SceneParsing ADEChallengeData2016) to TFRecords, the steps of the original
# deeplab/datasets/download_and_convert_ade20k.sh, from the archive you downloaded (this script
# uses no network):
#   ADEChallengeData2016.zip -> $WORK_DIR/ADEChallengeData2016 -> build_ade20k_data
#   (images/{training,validation}, annotations/{training,validation}) -> $WORK_DIR/tfrecord.
#
# Usage: bash scripts/download_and_convert_ade20k.sh [ADE20K_SOURCE]
#   ADE20K_SOURCE  ADEChallengeData2016.zip, or the extracted ADEChallengeData2016 folder (or its
#                  parent). Default: $WORK_DIR/ADEChallengeData2016 if present, else
#                  $WORK_DIR/ADEChallengeData2016.zip. Also read from the env var.
#   WORK_DIR       output root (default ./ADE20K).
#   OUTPUT_DIR     TFRecord folder (default $WORK_DIR/tfrecord).
#   SKIP_SETUP_ENV=1 skip scripts/setup_env.sh (use the existing .venv).
# Nothing partial is left where a reader looks: extraction and shards are written to *.tmp-<pid>
# folders and renamed into place when complete (removed on failure).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# abspath P: P made absolute against the current folder (portable; no GNU realpath needed).
abspath() { case "$1" in /*) echo "$1" ;; *) local p="${1#./}"; echo "$PWD/${p:-.}" ;; esac; }
ADE_URL="http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip"
ADE_ZIP_NAME="ADEChallengeData2016.zip"
ADE_FOLDER_NAME="ADEChallengeData2016"

WORK_DIR="$(abspath "${WORK_DIR:-./ADE20K}")"
OUTPUT_DIR="$(abspath "${OUTPUT_DIR:-$WORK_DIR/tfrecord}")"
EXTRACTED="$WORK_DIR/$ADE_FOLDER_NAME"
if [ -n "${1:-${ADE20K_SOURCE:-}}" ]; then
  ADE20K_SOURCE="$(abspath "${1:-$ADE20K_SOURCE}")"
elif [ -d "$EXTRACTED" ]; then
  ADE20K_SOURCE="$EXTRACTED"
else
  ADE20K_SOURCE="$WORK_DIR/$ADE_ZIP_NAME"
fi

fail() { echo "ERROR: $*" >&2; exit 1; }

if [ ! -e "$ADE20K_SOURCE" ]; then
  cat >&2 <<EOF
ERROR: ADE20K not found: $ADE20K_SOURCE does not exist.
This script does not download anything. Download
  $ADE_URL
(file $ADE_ZIP_NAME, 923 MB) and put it at
  $WORK_DIR/$ADE_ZIP_NAME
or pass the archive, or the folder it was extracted to, as the first argument (or ADE20K_SOURCE).
EOF
  exit 1
fi

if [ "${SKIP_SETUP_ENV:-0}" != 1 ]; then bash "$ROOT/scripts/setup_env.sh"; fi
PY="$ROOT/.venv/bin/python"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

TMPS=()
cleanup() { if [ ${#TMPS[@]} -gt 0 ]; then rm -rf "${TMPS[@]}"; fi; }
trap cleanup EXIT
# new_tmp VAR PATH: makes the empty folder PATH.tmp-<pid> (removed at exit) and stores it in VAR.
new_tmp() {
  local d="$2.tmp-$$"
  rm -rf "$d"; mkdir -p "$d"; TMPS+=("$d"); printf -v "$1" '%s' "$d"
}
# publish DONE FINAL: replaces folder FINAL by the completed folder DONE (never half-filled).
publish() {
  rm -rf "$2.old-$$"
  if [ -e "$2" ]; then mv "$2" "$2.old-$$"; fi
  mv "$1" "$2"; rm -rf "$2.old-$$"
}
find_ade() {  # prints the first candidate folder that has images/ and annotations/
  local c
  for c in "$1" "$1/$ADE_FOLDER_NAME"; do
    if [ -d "$c/images" ] && [ -d "$c/annotations" ]; then echo "$c"; return 0; fi
  done
  return 1
}

mkdir -p "$WORK_DIR"
if [ -d "$ADE20K_SOURCE" ]; then
  ADE_DIR="$(find_ade "$ADE20K_SOURCE")" || \
    fail "$ADE20K_SOURCE: no $ADE_FOLDER_NAME folder" \
      "(expected images/ and annotations/ in it or in $ADE_FOLDER_NAME/)"
else
  echo "[ade20k] extracting $ADE20K_SOURCE"
  new_tmp STAGE "$WORK_DIR/extract"
  "$PY" -m zipfile -e "$ADE20K_SOURCE" "$STAGE"
  FOUND="$(find_ade "$STAGE")" || \
    fail "$ADE20K_SOURCE: archive holds no $ADE_FOLDER_NAME/ folder with images/ and annotations/"
  publish "$FOUND" "$EXTRACTED"
  ADE_DIR="$EXTRACTED"
fi

echo "[ade20k] building TFRecords -> $OUTPUT_DIR"
new_tmp OUT_STAGE "$OUTPUT_DIR"
"$PY" -m datasets.build_ade20k_data \
  --train_image_folder="$ADE_DIR/images/training" \
  --train_image_label_folder="$ADE_DIR/annotations/training" \
  --val_image_folder="$ADE_DIR/images/validation" \
  --val_image_label_folder="$ADE_DIR/annotations/validation" \
  --output_dir="$OUT_STAGE"
publish "$OUT_STAGE" "$OUTPUT_DIR"
echo "[ade20k] TFRecords in $OUTPUT_DIR"
