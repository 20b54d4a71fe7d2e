#!/usr/bin/env bash
# Converts Cityscapes (fine annotations) to TFRecords, the steps of the original
# deeplab/datasets/convert_cityscapes.sh, from the archives you downloaded (this script uses no
# network and does not need cityscapesScripts):
#   gtFine_trainvaltest.zip + leftImg8bit_trainvaltest.zip (or their extracted gtFine/ and
#   leftImg8bit/ folders) -> *_gtFine_labelTrainIds.png from *_gtFine_labelIds.png (the 19-class
#   table of createTrainIdLabelImgs) -> build_cityscapes_data
#   -> $OUTPUT_DIR/{train,val,test}_fine-*.
#
# Usage: bash scripts/convert_cityscapes.sh [CITYSCAPES_ROOT]
#   CITYSCAPES_ROOT  folder holding gtFine/ and leftImg8bit/, or the two zips (default ./cityscapes;
#                    also read from the env var). A zip is extracted there when its folder is
#                    missing.
#   GTFINE_ZIP       default $CITYSCAPES_ROOT/gtFine_trainvaltest.zip
#   LEFTIMG8BIT_ZIP  default $CITYSCAPES_ROOT/leftImg8bit_trainvaltest.zip
#   OUTPUT_DIR       TFRecord folder (default $CITYSCAPES_ROOT/tfrecord)
#   SKIP_SETUP_ENV=1 skip scripts/setup_env.sh (use the existing .venv).
# Nothing partial is left where a reader looks: extraction and shards are written to *.tmp-<pid>
# folders and renamed into place when complete (removed on failure); label files are written
# one by one atomically.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# abspath P: P made absolute against the current folder (portable; no GNU realpath needed).
abspath() { case "$1" in /*) echo "$1" ;; *) local p="${1#./}"; echo "$PWD/${p:-.}" ;; esac; }
DOWNLOAD_PAGE="https://www.cityscapes-dataset.com/downloads/"

CITYSCAPES_ROOT="$(abspath "${1:-${CITYSCAPES_ROOT:-./cityscapes}}")"
GTFINE_ZIP="$(abspath "${GTFINE_ZIP:-$CITYSCAPES_ROOT/gtFine_trainvaltest.zip}")"
LEFTIMG8BIT_ZIP="$(abspath "${LEFTIMG8BIT_ZIP:-$CITYSCAPES_ROOT/leftImg8bit_trainvaltest.zip}")"
OUTPUT_DIR="$(abspath "${OUTPUT_DIR:-$CITYSCAPES_ROOT/tfrecord}")"

fail() { echo "ERROR: $*" >&2; exit 1; }

MISSING=()
[ -d "$CITYSCAPES_ROOT/gtFine" ] || [ -f "$GTFINE_ZIP" ] || \
  MISSING+=("gtFine_trainvaltest.zip (241 MB, package 1): put it at $GTFINE_ZIP or extract it"\
" so that $CITYSCAPES_ROOT/gtFine/ exists")
[ -d "$CITYSCAPES_ROOT/leftImg8bit" ] || [ -f "$LEFTIMG8BIT_ZIP" ] || \
  MISSING+=("leftImg8bit_trainvaltest.zip (11 GB, package 3): put it at $LEFTIMG8BIT_ZIP or"\
" extract it so that $CITYSCAPES_ROOT/leftImg8bit/ exists")
if [ ${#MISSING[@]} -gt 0 ]; then
  {
    echo "ERROR: Cityscapes not found under $CITYSCAPES_ROOT."
    echo "This script does not download anything. Register and download from"
    echo "  $DOWNLOAD_PAGE"
    printf '  %s\n' "${MISSING[@]}"
    echo "then run: bash scripts/convert_cityscapes.sh $CITYSCAPES_ROOT"
  } >&2
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
# extract_folder ZIP NAME: extracts ZIP and moves its top-level NAME/ to $CITYSCAPES_ROOT/NAME.
extract_folder() {
  local stage
  echo "[cityscapes] extracting $1"
  new_tmp stage "$CITYSCAPES_ROOT/extract_$2"
  "$PY" -m zipfile -e "$1" "$stage"
  [ -d "$stage/$2" ] || fail "$1: archive holds no top-level $2/ folder"
  publish "$stage/$2" "$CITYSCAPES_ROOT/$2"
}

mkdir -p "$CITYSCAPES_ROOT"
[ -d "$CITYSCAPES_ROOT/gtFine" ] || extract_folder "$GTFINE_ZIP" gtFine
[ -d "$CITYSCAPES_ROOT/leftImg8bit" ] || extract_folder "$LEFTIMG8BIT_ZIP" leftImg8bit

echo "[cityscapes] labelTrainIds + TFRecords -> $OUTPUT_DIR"
new_tmp OUT_STAGE "$OUTPUT_DIR"
"$PY" -m datasets.build_cityscapes_data --cityscapes_root="$CITYSCAPES_ROOT" \
  --output_dir="$OUT_STAGE" --create_label_trainids
publish "$OUT_STAGE" "$OUTPUT_DIR"
echo "[cityscapes] TFRecords in $OUTPUT_DIR"
